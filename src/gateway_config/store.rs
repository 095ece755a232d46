//! Storing gateway configuration: create and edit with an audit entry and a configuration
//! version bump in the same transaction, and the masked views the pages read.

use chrono::{DateTime, Utc};

use super::{GatewaySettings, GatewayView, SecretChange, check_id, version};
use crate::audit::{self, Actor};
use crate::db::{Db, Tx};
use crate::error::{Error, Result};
use crate::text_enum::stored;
use crate::{with_db, with_tx};

#[derive(sqlx::FromRow)]
struct ViewRow {
    id: String,
    name: String,
    provider: String,
    kind: String,
    currency: String,
    base_url: Option<String>,
    api_key_set: bool,
    signing_secret_set: bool,
    timeout_ms: i64,
    enabled: bool,
    settle_after_seconds: Option<i64>,
    reconcile_schedule: Option<String>,
    created_at: DateTime<Utc>,
}

// The secrets themselves are never selected here: only whether they are set.
const SELECT_VIEW: &str = "SELECT id, name, provider, kind, currency, base_url,
        (api_key IS NOT NULL) AS api_key_set, (signing_secret IS NOT NULL) AS signing_secret_set,
        timeout_ms, enabled, settle_after_seconds, reconcile_schedule, created_at FROM gateways";

impl TryFrom<ViewRow> for GatewayView {
    type Error = Error;

    fn try_from(r: ViewRow) -> Result<GatewayView> {
        Ok(GatewayView {
            kind: stored("gateways.kind", &r.kind)?,
            currency: stored("gateways.currency", &r.currency)?,
            id: r.id,
            name: r.name,
            provider: r.provider,
            base_url: r.base_url,
            api_key_set: r.api_key_set,
            signing_secret_set: r.signing_secret_set,
            timeout_ms: r.timeout_ms,
            enabled: r.enabled,
            settle_after_seconds: r.settle_after_seconds,
            reconcile_schedule: r
                .reconcile_schedule
                .map(|s| s.split(',').filter_map(|n| n.trim().parse().ok()).collect()),
            created_at: r.created_at,
        })
    }
}

/// Every gateway, by key, masked.
pub async fn list(db: &Db) -> Result<Vec<GatewayView>> {
    let sql = format!("{SELECT_VIEW} ORDER BY id");
    let rows: Vec<ViewRow> = with_db!(db, pool => sqlx::query_as(&sql).fetch_all(pool).await)?;
    rows.into_iter().map(GatewayView::try_from).collect()
}

/// One gateway, masked.
pub async fn find(db: &Db, id: &str) -> Result<Option<GatewayView>> {
    let sql = format!("{SELECT_VIEW} WHERE id = $1");
    let row: Option<ViewRow> =
        with_db!(db, pool => sqlx::query_as(&sql).bind(id).fetch_optional(pool).await)?;
    row.map(GatewayView::try_from).transpose()
}

fn schedule_text(s: &GatewaySettings) -> Option<String> {
    s.reconcile_schedule
        .as_ref()
        .map(|steps| steps.iter().map(ToString::to_string).collect::<Vec<_>>().join(","))
}

fn secret_value(change: &SecretChange) -> Option<&str> {
    match change {
        SecretChange::Keep => None,
        SecretChange::Set(v) => Some(v),
    }
}

/// What changed, in words, for the audit log (never a secret's value).
fn describe(settings: &GatewaySettings) -> String {
    let mut parts = vec![
        format!("name {:?}", settings.name),
        format!("provider {:?}", settings.provider),
        format!("kind {}", settings.kind),
        format!("currency {}", settings.currency.code()),
        format!(
            "base URL {}",
            settings.base_url.as_ref().map_or("sandbox".to_owned(), ToString::to_string)
        ),
        format!("timeout {} ms", settings.timeout_ms),
        format!("{}", if settings.enabled { "enabled" } else { "disabled" }),
    ];
    if let Some(s) = settings.settle_after_seconds {
        parts.push(format!("settle after {s} s"));
    }
    if let Some(s) = schedule_text(settings) {
        parts.push(format!("reconciliation schedule {s} s"));
    }
    if matches!(settings.api_key, SecretChange::Set(_)) {
        parts.push("API key replaced".into());
    }
    if matches!(settings.signing_secret, SecretChange::Set(_)) {
        parts.push("signing secret replaced".into());
    }
    parts.join(", ")
}

/// Configures a new gateway; a key already in use is a message on `id`.
pub async fn create(
    db: &Db,
    actor: &Actor,
    id: &str,
    settings: &GatewaySettings,
) -> Result<GatewayView> {
    let id = check_id(id)?;
    let mut tx = db.begin().await?;
    let exists = "SELECT COUNT(*) FROM gateways WHERE id = $1";
    let count: i64 =
        with_tx!(&mut tx, conn => sqlx::query_scalar(exists).bind(&id).fetch_one(conn).await)?;
    if count > 0 {
        return Err(Error::invalid("id", format!("{id} is already a gateway's key")));
    }
    let sql = "INSERT INTO gateways (id, name, provider, kind, currency, enabled, created_at, base_url, api_key, signing_secret, timeout_ms, settle_after_seconds, reconcile_schedule)
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)";
    with_tx!(&mut tx, conn => sqlx::query(sql)
        .bind(&id)
        .bind(&settings.name)
        .bind(&settings.provider)
        .bind(settings.kind.as_str())
        .bind(settings.currency.code())
        .bind(settings.enabled)
        .bind(Utc::now())
        .bind(settings.base_url.as_ref().map(ToString::to_string))
        .bind(secret_value(&settings.api_key))
        .bind(secret_value(&settings.signing_secret))
        .bind(settings.timeout_ms)
        .bind(settings.settle_after_seconds)
        .bind(schedule_text(settings))
        .execute(conn)
        .await
        .map(|_| ()))?;
    finish(tx, actor, "gateway.create", &id, settings).await?;
    find(db, &id).await?.ok_or(Error::NotFound("gateway"))
}

/// Changes a gateway; blank secrets keep their stored values.
pub async fn update(
    db: &Db,
    actor: &Actor,
    id: &str,
    settings: &GatewaySettings,
) -> Result<GatewayView> {
    let mut tx = db.begin().await?;
    let sql =
        "UPDATE gateways SET name = $2, provider = $3, kind = $4, currency = $5, enabled = $6,
                   base_url = $7, api_key = COALESCE($8, api_key),
                   signing_secret = COALESCE($9, signing_secret), timeout_ms = $10,
                   settle_after_seconds = $11, reconcile_schedule = $12
               WHERE id = $1";
    let updated = with_tx!(&mut tx, conn => sqlx::query(sql)
        .bind(id)
        .bind(&settings.name)
        .bind(&settings.provider)
        .bind(settings.kind.as_str())
        .bind(settings.currency.code())
        .bind(settings.enabled)
        .bind(settings.base_url.as_ref().map(ToString::to_string))
        .bind(secret_value(&settings.api_key))
        .bind(secret_value(&settings.signing_secret))
        .bind(settings.timeout_ms)
        .bind(settings.settle_after_seconds)
        .bind(schedule_text(settings))
        .execute(conn)
        .await
        .map(|r| r.rows_affected()))?;
    if updated == 0 {
        return Err(Error::NotFound("gateway"));
    }
    finish(tx, actor, "gateway.update", id, settings).await?;
    find(db, id).await?.ok_or(Error::NotFound("gateway"))
}

/// The audit entry and the version bump, then the commit: all or nothing with the change.
async fn finish(
    mut tx: Tx,
    actor: &Actor,
    action: &str,
    id: &str,
    settings: &GatewaySettings,
) -> Result<()> {
    audit::record_in(&mut tx, actor, action, &format!("gateway:{id}"), &describe(settings)).await?;
    version::bump(&mut tx).await?;
    tx.commit().await
}
