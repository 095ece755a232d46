//! Webhook events: what a merchant is told about, stored once each with a numeric id (seed 001's
//! Long `id`), and where its delivery stands.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::EventType;
use super::delivery::{Invocation, InvocationStatus, SyncError};
use crate::db::{Db, Tx};
use crate::error::{Error, Result};
use crate::merchant::MerchantId;
use crate::text_enum::stored;
use crate::{with_db, with_tx};

/// An event's id: the body's `id` and the `webhook-id` header, the same on every retry.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct EventId(pub i64);

impl std::fmt::Display for EventId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// One event for one merchant, with the outcome of its latest delivery attempt.
#[derive(Clone, Debug)]
pub struct Event {
    /// Unique, increasing.
    pub id: EventId,
    /// Who is told.
    pub merchant_id: MerchantId,
    /// What happened.
    pub kind: EventType,
    /// What it is about: a payment reference, or a purchase's id or public reference.
    pub subject: String,
    /// When it happened.
    pub created_at: DateTime<Utc>,
    /// `PENDING` until the first attempt, then the latest attempt's invocation.
    pub invocation: Invocation,
    /// The latest answered attempt's status.
    pub invocation_status: Option<InvocationStatus>,
    /// `SYNCH_UNAVAILABLE` when the latest attempt got no response.
    pub sync_error: Option<SyncError>,
    /// Attempts made.
    pub attempts: i64,
    /// The latest response body (bounded).
    pub response_body: Option<String>,
}

#[derive(sqlx::FromRow)]
struct Row {
    id: i64,
    merchant_id: MerchantId,
    kind: String,
    subject: String,
    created_at: DateTime<Utc>,
    invocation: String,
    invocation_status: Option<String>,
    sync_error: Option<String>,
    attempts: i64,
    response_body: Option<String>,
}

const COLUMNS: &str = "id, merchant_id, kind, subject, created_at, invocation, invocation_status, sync_error, attempts, response_body";

impl TryFrom<Row> for Event {
    type Error = Error;

    fn try_from(r: Row) -> Result<Event> {
        const T: &str = "webhook_events";
        Ok(Event {
            id: EventId(r.id),
            merchant_id: r.merchant_id,
            kind: stored(T, &r.kind)?,
            subject: r.subject,
            created_at: r.created_at,
            invocation: stored(T, &r.invocation)?,
            invocation_status: r.invocation_status.as_deref().map(|s| stored(T, s)).transpose()?,
            sync_error: r.sync_error.as_deref().map(|s| stored(T, s)).transpose()?,
            attempts: r.attempts,
            response_body: r.response_body,
        })
    }
}

impl Event {
    /// Stores a new event inside `tx`; its id.
    pub(crate) async fn insert(
        tx: &mut Tx,
        merchant: &MerchantId,
        kind: EventType,
        subject: &str,
    ) -> Result<EventId> {
        let sql = "INSERT INTO webhook_events (merchant_id, kind, subject, created_at, invocation, attempts)
                   VALUES ($1, $2, $3, $4, 'PENDING', 0) RETURNING id";
        let id: i64 = with_tx!(tx, conn => sqlx::query_scalar(sql)
            .bind(merchant)
            .bind(kind.as_str())
            .bind(subject)
            .bind(Utc::now())
            .fetch_one(conn)
            .await)?;
        Ok(EventId(id))
    }

    /// An event by id.
    pub async fn find(db: &Db, id: EventId) -> Result<Option<Event>> {
        let sql = format!("SELECT {COLUMNS} FROM webhook_events WHERE id = $1");
        let row: Option<Row> =
            with_db!(db, pool => sqlx::query_as(&sql).bind(id.0).fetch_optional(pool).await)?;
        row.map(Event::try_from).transpose()
    }

    /// A merchant's latest events, newest first.
    pub async fn recent(db: &Db, merchant: &MerchantId, limit: i64) -> Result<Vec<Event>> {
        let sql = format!(
            "SELECT {COLUMNS} FROM webhook_events WHERE merchant_id = $1 ORDER BY id DESC LIMIT $2"
        );
        let rows: Vec<Row> = with_db!(db, pool => sqlx::query_as(&sql)
            .bind(merchant)
            .bind(limit)
            .fetch_all(pool)
            .await)?;
        rows.into_iter().map(Event::try_from).collect()
    }

    /// The events about `subject` (a payment reference or purchase id), oldest first.
    pub async fn about(db: &Db, subject: &str) -> Result<Vec<Event>> {
        let sql = format!("SELECT {COLUMNS} FROM webhook_events WHERE subject = $1 ORDER BY id");
        let rows: Vec<Row> =
            with_db!(db, pool => sqlx::query_as(&sql).bind(subject).fetch_all(pool).await)?;
        rows.into_iter().map(Event::try_from).collect()
    }
}
