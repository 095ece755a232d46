//! The back office's audit log: every action an admin or operator takes (a refund, a cancelled
//! payment, a changed product or gateway, a new user) with who, what, when and from which
//! address. Append-only: the table's triggers refuse updates and deletes.
//!
//! Write the entry in the same transaction as the change ([`record_in`]) wherever the change is
//! one transaction, so a change is never made without its entry (nor an entry without its
//! change).

use chrono::{DateTime, Utc};

use crate::account::{User, UserId};
use crate::db::{Db, Tx};
use crate::error::Result;
use crate::{with_db, with_tx};

/// Who is acting, and from where.
#[derive(Clone, Debug)]
pub struct Actor {
    /// The user's id (`None` for the command line).
    pub user_id: Option<UserId>,
    /// How they are named in the log (their email).
    pub name: String,
    /// The address the request came from (`cli` for the command line).
    pub address: String,
}

impl Actor {
    /// A signed-in user acting from `address`.
    pub fn user(user: &User, address: &str) -> Actor {
        Actor {
            user_id: Some(user.id.clone()),
            name: user.email.to_string(),
            address: address.to_owned(),
        }
    }

    /// The operator at the command line.
    pub fn command_line() -> Actor {
        Actor { user_id: None, name: "command line".into(), address: "cli".into() }
    }
}

/// One line of the log.
#[derive(Clone, Debug)]
pub struct AuditEntry {
    /// Its position (newer entries have larger ids).
    pub id: i64,
    /// When.
    pub at: DateTime<Utc>,
    /// The acting user's id, if a user acted.
    pub actor_id: Option<String>,
    /// Who, by name.
    pub actor: String,
    /// From which address.
    pub address: String,
    /// What, as a short verb phrase (`payment.refund`, `product.update`).
    pub action: String,
    /// What it was done to (`payment:PAY-…`, `product:FIBRE-20-10`).
    pub subject: String,
    /// The details, in words.
    pub detail: String,
}

type EntryRow = (i64, DateTime<Utc>, Option<String>, String, String, String, String, String);

impl From<EntryRow> for AuditEntry {
    fn from(r: EntryRow) -> AuditEntry {
        AuditEntry {
            id: r.0,
            at: r.1,
            actor_id: r.2,
            actor: r.3,
            address: r.4,
            action: r.5,
            subject: r.6,
            detail: r.7,
        }
    }
}

const INSERT: &str = "INSERT INTO audit_log (at, actor_id, actor, address, action, subject, detail)
                      VALUES ($1, $2, $3, $4, $5, $6, $7)";
const COLUMNS: &str = "id, at, actor_id, actor, address, action, subject, detail";

/// Writes an entry inside the transaction that makes the change.
pub async fn record_in(
    tx: &mut Tx,
    actor: &Actor,
    action: &str,
    subject: &str,
    detail: &str,
) -> Result<()> {
    let now = Utc::now();
    let actor_id = actor.user_id.as_ref().map(ToString::to_string);
    with_tx!(tx, conn => sqlx::query(INSERT)
        .bind(now)
        .bind(&actor_id)
        .bind(&actor.name)
        .bind(&actor.address)
        .bind(action)
        .bind(subject)
        .bind(detail)
        .execute(conn)
        .await
        .map(|_| ()))?;
    Ok(())
}

/// Writes an entry on its own (for actions whose change is not one transaction of Settle's,
/// such as asking a gateway again).
pub async fn record(
    db: &Db,
    actor: &Actor,
    action: &str,
    subject: &str,
    detail: &str,
) -> Result<()> {
    let mut tx = db.begin().await?;
    record_in(&mut tx, actor, action, subject, detail).await?;
    tx.commit().await
}

/// A page of the log, newest first: entries older than `before` (an entry id; `None` for the
/// newest), of one subject if given. Keyset paging, so any page costs the same.
pub async fn page(
    db: &Db,
    subject: Option<&str>,
    before: Option<i64>,
    limit: i64,
) -> Result<Vec<AuditEntry>> {
    let before = before.unwrap_or(i64::MAX);
    let rows: Vec<EntryRow> = match subject {
        Some(subject) => {
            let sql = format!(
                "SELECT {COLUMNS} FROM audit_log WHERE subject = $1 AND id < $2 ORDER BY id DESC LIMIT $3"
            );
            with_db!(db, pool => sqlx::query_as(&sql)
                .bind(subject)
                .bind(before)
                .bind(limit)
                .fetch_all(pool)
                .await)?
        }
        None => {
            let sql =
                format!("SELECT {COLUMNS} FROM audit_log WHERE id < $1 ORDER BY id DESC LIMIT $2");
            with_db!(db, pool => sqlx::query_as(&sql).bind(before).bind(limit).fetch_all(pool).await)?
        }
    };
    Ok(rows.into_iter().map(AuditEntry::from).collect())
}
