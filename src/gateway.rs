//! Gateways: configured connector instances (`payfort-aed`, `invoice`), each with a provider.

use chrono::{DateTime, Utc};

use crate::db::Db;
use crate::error::{Error, Result};
use crate::money::Currency;
use crate::product::ProductId;
use crate::text_enum::stored;
use crate::{text_enum, with_db};

text_enum!(
    /// What kind of connector a gateway is, which decides the payment flow.
    GatewayKind, field = "kind", {
        /// Customer is redirected to a hosted page (Payfort, Peach Checkout, PayFast).
        HostedCheckout = "hosted_checkout",
        /// Card details are authorised with 3-D Secure (Sagepay/Opayo).
        Card3ds = "card_3ds",
        /// Collection from a bank account under a mandate.
        DirectDebit = "direct_debit",
        /// Paid later against an invoice.
        Invoice = "invoice",
        /// Customer pays through a link.
        PaymentLink = "payment_link",
        /// Paid outside any gateway (cash, EFT) and allocated by staff.
        OffSystem = "off_system",
        /// Apple Pay with merchant validation.
        ApplePay = "apple_pay",
    }
);

/// A configured gateway; `id` is the key clients submit (`"gateway": "payfort-aed"`).
#[derive(Clone, Debug)]
pub struct Gateway {
    /// The client-visible key.
    pub id: String,
    /// Display name.
    pub name: String,
    /// Who runs it.
    pub provider: String,
    /// The connector kind.
    pub kind: GatewayKind,
    /// The currency it settles in.
    pub currency: Currency,
    /// Disabled gateways are offered to nobody.
    pub enabled: bool,
    /// When it was configured.
    pub created_at: DateTime<Utc>,
}

#[derive(sqlx::FromRow)]
struct GatewayRow {
    id: String,
    name: String,
    provider: String,
    kind: String,
    currency: String,
    enabled: bool,
    created_at: DateTime<Utc>,
}

impl TryFrom<GatewayRow> for Gateway {
    type Error = Error;

    fn try_from(r: GatewayRow) -> Result<Gateway> {
        Ok(Gateway {
            kind: stored("gateways.kind", &r.kind)?,
            currency: stored("gateways.currency", &r.currency)?,
            id: r.id,
            name: r.name,
            provider: r.provider,
            enabled: r.enabled,
            created_at: r.created_at,
        })
    }
}

impl Gateway {
    /// Configures a gateway.
    pub async fn create(
        db: &Db,
        id: &str,
        name: &str,
        provider: &str,
        kind: GatewayKind,
        currency: Currency,
    ) -> Result<Gateway> {
        if id.is_empty() || !id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') {
            return Err(Error::invalid("id", "must be letters, digits, '-' or '_'"));
        }
        let gateway = Gateway {
            id: id.to_owned(),
            name: name.to_owned(),
            provider: provider.to_owned(),
            kind,
            currency,
            enabled: true,
            created_at: Utc::now(),
        };
        let sql = "INSERT INTO gateways (id, name, provider, kind, currency, enabled, created_at)
                   VALUES ($1, $2, $3, $4, $5, $6, $7)";
        with_db!(db, pool => sqlx::query(sql)
            .bind(&gateway.id)
            .bind(&gateway.name)
            .bind(&gateway.provider)
            .bind(gateway.kind.as_str())
            .bind(gateway.currency.code())
            .bind(gateway.enabled)
            .bind(gateway.created_at)
            .execute(pool)
            .await
            .map(|_| ()))?;
        Ok(gateway)
    }

    /// The enabled gateways of a product, in the order they are offered and tried.
    pub async fn for_product(db: &Db, product: &ProductId) -> Result<Vec<Gateway>> {
        let sql = "SELECT g.id, g.name, g.provider, g.kind, g.currency, g.enabled, g.created_at
                   FROM gateways g JOIN product_gateways pg ON pg.gateway_id = g.id
                   WHERE pg.product_id = $1 AND g.enabled ORDER BY pg.position";
        let rows: Vec<GatewayRow> =
            with_db!(db, pool => sqlx::query_as(sql).bind(product).fetch_all(pool).await)?;
        rows.into_iter().map(Gateway::try_from).collect()
    }

    /// Every gateway with its connection settings, for building connectors.
    pub async fn connections(db: &Db) -> Result<Vec<crate::connector::GatewayConnection>> {
        #[derive(sqlx::FromRow)]
        struct Row {
            #[sqlx(flatten)]
            gateway: GatewayRow,
            base_url: Option<String>,
            api_key: Option<String>,
            signing_secret: Option<String>,
            timeout_ms: i64,
            settle_after_seconds: Option<i64>,
            reconcile_schedule: Option<String>,
        }
        let sql = "SELECT id, name, provider, kind, currency, enabled, created_at, base_url, api_key, signing_secret, timeout_ms, settle_after_seconds, reconcile_schedule FROM gateways ORDER BY id";
        let rows: Vec<Row> = with_db!(db, pool => sqlx::query_as(sql).fetch_all(pool).await)?;
        rows.into_iter()
            .map(|r| {
                let base_url =
                    match r.base_url {
                        Some(u) => Some(url::Url::parse(&u).map_err(|e| {
                            Error::Internal(format!("gateways.base_url {u:?}: {e}"))
                        })?),
                        None => None,
                    };
                Ok(crate::connector::GatewayConnection {
                    gateway: Gateway::try_from(r.gateway)?,
                    base_url,
                    api_key: r.api_key,
                    signing_secret: r.signing_secret,
                    timeout: std::time::Duration::from_millis(r.timeout_ms.max(1) as u64),
                    reconcile: crate::payment::orchestrator::GatewayTiming::stored(
                        r.settle_after_seconds,
                        r.reconcile_schedule.as_deref(),
                    ),
                })
            })
            .collect()
    }

    /// Every configured gateway.
    pub async fn list(db: &Db) -> Result<Vec<Gateway>> {
        let sql = "SELECT id, name, provider, kind, currency, enabled, created_at FROM gateways ORDER BY id";
        let rows: Vec<GatewayRow> =
            with_db!(db, pool => sqlx::query_as(sql).fetch_all(pool).await)?;
        rows.into_iter().map(Gateway::try_from).collect()
    }
}
