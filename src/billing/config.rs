//! An operator's configuration as its clients read it: a product's billing scheme, the
//! operator's rules (every product's scheme settings), and the default provider (gateway) new
//! mediums of a kind are set up with. The operator is the merchant whose client asks; a
//! customer signed in through that client reads the same.

use crate::access::{self, Viewer};
use crate::billing::scheme::BillingScheme;
use crate::db::Db;
use crate::error::{Error, Result};
use crate::gateway::{Gateway, GatewayKind};
use crate::merchant::{Merchant, MerchantId};
use crate::payment_method::MethodKind;
use crate::product::Product;
use crate::with_db;

/// An operator's rules: who it is and the scheme of each of its products.
#[derive(Clone, Debug)]
pub struct OperatorRules {
    /// The operator (merchant).
    pub merchant: Merchant,
    /// Its products' schemes, by product code.
    pub schemes: Vec<BillingScheme>,
}

/// The billing scheme of a product, if the viewer may see the product.
pub async fn product_scheme(db: &Db, viewer: &Viewer, product_id: &str) -> Result<BillingScheme> {
    let product = access::product(db, viewer, product_id).await?;
    BillingScheme::of_product(db, product).await
}

/// The operator's rules: the calling merchant's products and their schemes (only `product_id`'s
/// when one is given).
pub async fn operator_rules(
    db: &Db,
    viewer: &Viewer,
    product_id: Option<&str>,
) -> Result<OperatorRules> {
    let merchant_id = operator(viewer)?;
    let merchant = Merchant::find(db, merchant_id).await?.ok_or(Error::NotFound("operator"))?;
    let products = match product_id.map(str::trim).filter(|p| !p.is_empty()) {
        Some(id) => vec![access::product(db, viewer, id).await?],
        None => Product::of_merchant(db, merchant_id).await?,
    };
    let mut schemes = Vec::with_capacity(products.len());
    for product in products {
        schemes.push(BillingScheme::of_product(db, product).await?);
    }
    Ok(OperatorRules { merchant, schemes })
}

/// The gateway the calling merchant sets up new mediums of `kind` with (cards, bank accounts);
/// `NotFound` when it has named none.
pub async fn default_provider(db: &Db, viewer: &Viewer, kind: MethodKind) -> Result<Gateway> {
    let merchant = operator(viewer)?;
    let sql = "SELECT gateway_id FROM merchant_default_gateways WHERE merchant_id = $1 AND method_kind = $2";
    let gateway: Option<String> = with_db!(db, pool => sqlx::query_scalar(sql)
        .bind(merchant)
        .bind(kind.as_str())
        .fetch_optional(pool)
        .await)?;
    let Some(gateway) = gateway else { return Err(Error::NotFound("default provider")) };
    Gateway::list(db)
        .await?
        .into_iter()
        .find(|g| g.id == gateway && g.enabled)
        .ok_or(Error::NotFound("default provider"))
}

/// Names the gateway a merchant sets up new mediums of `kind` with: a card takes a card,
/// hosted-checkout or payment-link gateway, a bank account a direct-debit one.
pub async fn set_default_provider(
    db: &Db,
    merchant: &MerchantId,
    kind: MethodKind,
    gateway_id: &str,
) -> Result<()> {
    let gateway = Gateway::list(db)
        .await?
        .into_iter()
        .find(|g| g.id == gateway_id)
        .ok_or(Error::NotFound("gateway"))?;
    let fits = match kind {
        MethodKind::Card => matches!(
            gateway.kind,
            GatewayKind::Card3ds | GatewayKind::HostedCheckout | GatewayKind::PaymentLink
        ),
        MethodKind::BankAccount => gateway.kind == GatewayKind::DirectDebit,
        _ => false,
    };
    if !fits {
        return Err(Error::invalid(
            "gateway_id",
            format!("{gateway_id} can't set up {} mediums", kind.as_str()),
        ));
    }
    let sql = "INSERT INTO merchant_default_gateways (merchant_id, method_kind, gateway_id) VALUES ($1, $2, $3)
               ON CONFLICT (merchant_id, method_kind) DO UPDATE SET gateway_id = excluded.gateway_id";
    with_db!(db, pool => sqlx::query(sql)
        .bind(merchant)
        .bind(kind.as_str())
        .bind(gateway_id)
        .execute(pool)
        .await
        .map(|_| ()))?;
    Ok(())
}

/// The operator a viewer reads the configuration of: the merchant of its token.
fn operator(viewer: &Viewer) -> Result<&MerchantId> {
    viewer.merchant().ok_or(Error::Forbidden)
}
