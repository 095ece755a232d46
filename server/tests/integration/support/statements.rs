//! Every SQL statement the process runs, recorded while a test asks for it, and each one's plan
//! on the test's database: the query-plan test fails on a full scan of a table that grows with
//! the business (payments, purchases, lines, jobs…), so the cost of a request can't grow with
//! the number of rows.
//!
//! Statements are read from sqlx's own `sqlx::query` events, so nothing in Settle is
//! instrumented for the test. Recording sees the whole process: the harness runs the tests that
//! record alone (see `support::run_one`).

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::{Context, Result};
use settle::Db;
use sqlx::Executor;
use tracing::field::{Field, Visit};
use tracing::subscriber::Interest;
use tracing::{Event, Metadata};
use tracing_subscriber::layer::{Context as LayerContext, Layer};

static RECORDING: AtomicBool = AtomicBool::new(false);
/// The statements run while recording, in order.
static RECORDED: Mutex<Vec<String>> = Mutex::new(Vec::new());

/// Tables whose row count follows the business (one or more rows per customer, purchase or
/// payment). The others are configuration an operator keeps (products, gateways, merchants…):
/// scanning those costs the same at any size.
pub const GROWING_TABLES: &[&str] = &[
    "api_tokens",
    "audit_log",
    "card_updates",
    "customer_addresses",
    "customer_notifications",
    "customers",
    "gateway_notifications",
    "idempotency_keys",
    "jobs",
    "login_attempts",
    "payment_card_saves",
    "payment_events",
    "payment_methods",
    "payments",
    "purchase_lines",
    "purchases",
    "quote_payments",
    "refunds",
    "services",
    "tower_sessions",
    "users",
    "webhook_attempts",
    "webhook_events",
];

/// Installs the recorder as the process's subscriber (once, before any test runs). Returns
/// false if another subscriber was installed first (`SETTLE_TEST_LOG`).
pub fn install() -> bool {
    use tracing_subscriber::layer::SubscriberExt;
    let subscriber = tracing_subscriber::registry().with(Recorder);
    tracing::subscriber::set_global_default(subscriber).is_ok()
}

/// Records every statement until the returned guard is dropped (or [`Recording::take`]n).
pub fn record() -> Recording {
    RECORDED.lock().expect("statements lock").clear();
    RECORDING.store(true, Ordering::SeqCst);
    Recording
}

/// While it lives, statements are recorded.
pub struct Recording;

impl Recording {
    /// Stops recording; the statements run, in order.
    pub fn take(self) -> Vec<String> {
        RECORDING.store(false, Ordering::SeqCst);
        std::mem::take(&mut *RECORDED.lock().expect("statements lock"))
    }
}

impl Drop for Recording {
    fn drop(&mut self) {
        RECORDING.store(false, Ordering::SeqCst);
    }
}

/// A subscriber layer that keeps only sqlx's statement events, and only while recording.
struct Recorder;

impl<S: tracing::Subscriber> Layer<S> for Recorder {
    fn register_callsite(&self, metadata: &'static Metadata<'static>) -> Interest {
        if metadata.target() == "sqlx::query" { Interest::sometimes() } else { Interest::never() }
    }

    fn enabled(&self, metadata: &Metadata<'_>, _: LayerContext<'_, S>) -> bool {
        metadata.target() == "sqlx::query" && RECORDING.load(Ordering::Relaxed)
    }

    fn on_event(&self, event: &Event<'_>, _: LayerContext<'_, S>) {
        let mut fields = StatementFields::default();
        event.record(&mut fields);
        // sqlx leaves `db.statement` empty when the summary (first four words) is the whole
        // statement.
        let sql =
            if fields.statement.trim().is_empty() { fields.summary } else { fields.statement };
        let sql = sql.trim().to_owned();
        if !sql.is_empty() {
            RECORDED.lock().expect("statements lock").push(sql);
        }
    }
}

#[derive(Default)]
struct StatementFields {
    summary: String,
    statement: String,
}

impl Visit for StatementFields {
    fn record_str(&mut self, field: &Field, value: &str) {
        match field.name() {
            "summary" => self.summary = value.to_owned(),
            "db.statement" => self.statement = value.to_owned(),
            _ => {}
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        let text = format!("{value:?}");
        let unquoted = || serde_json::from_str::<String>(&text).unwrap_or_else(|_| text.clone());
        match field.name() {
            "summary" => self.summary = unquoted(),
            "db.statement" => self.statement = unquoted(),
            _ => {}
        }
    }
}

/// Statements that plan nothing: transaction control, connection settings.
fn plans_nothing(sql: &str) -> bool {
    let first = sql.split_whitespace().next().unwrap_or_default().to_ascii_uppercase();
    matches!(
        first.as_str(),
        "BEGIN" | "COMMIT" | "ROLLBACK" | "SAVEPOINT" | "RELEASE" | "PRAGMA" | "SET" | "SHOW"
    )
}

/// The highest `$n` placeholder in `sql` (how many parameters it takes).
fn parameter_count(sql: &str) -> usize {
    let bytes = sql.as_bytes();
    let mut highest = 0;
    for (i, b) in bytes.iter().enumerate() {
        if *b == b'$' {
            let digits: String =
                sql[i + 1..].chars().take_while(|c| c.is_ascii_digit()).collect::<String>();
            if let Ok(n) = digits.parse::<usize>() {
                highest = highest.max(n);
            }
        }
    }
    highest
}

/// One statement that reads a growing table in full (or sorts all of its matching rows), with
/// the plan that shows it.
#[derive(Debug)]
pub struct FullScan {
    pub sql: String,
    pub plan: String,
}

/// Plans every statement on `db` and returns those that scan a growing table in full.
///
/// On PostgreSQL each statement is prepared and explained as a generic plan (parameters
/// unknown, as in a server that runs it for any customer) with sequential scans priced out, so
/// a `Seq Scan` in the plan means no index can serve the statement at all. On SQLite it is
/// `EXPLAIN QUERY PLAN` with the parameters bound to NULL.
pub async fn full_scans(db: &Db, statements: Vec<String>) -> Result<Vec<FullScan>> {
    let mut found = Vec::new();
    match db {
        Db::Sqlite(pool) => {
            for sql in statements.iter().filter(|s| !plans_nothing(s)) {
                let plan = explain_sqlite(pool, sql).await?;
                if sqlite_scans_in_full(sql, &plan) {
                    found.push(FullScan { sql: sql.clone(), plan: plan.join("\n") });
                }
            }
        }
        Db::Postgres(pool) => {
            let mut conn = pool.acquire().await?.detach();
            conn.execute("SET plan_cache_mode = force_generic_plan; SET enable_seqscan = off")
                .await?;
            for sql in statements.iter().filter(|s| !plans_nothing(s)) {
                let root = explain_postgres(&mut conn, sql).await?;
                if postgres_scans_in_full(&root, false) {
                    let plan = serde_json::to_string_pretty(&root)?;
                    found.push(FullScan { sql: sql.clone(), plan });
                }
            }
        }
    }
    Ok(found)
}

/// `EXPLAIN QUERY PLAN` of `sql` with every parameter NULL: each step's detail.
async fn explain_sqlite(pool: &sqlx::SqlitePool, sql: &str) -> Result<Vec<String>> {
    let explain = format!("EXPLAIN QUERY PLAN {sql}");
    let mut query = sqlx::query_as::<_, (i64, i64, i64, String)>(&explain);
    for _ in 0..parameter_count(sql) {
        query = query.bind(None::<String>);
    }
    let rows = query.fetch_all(pool).await.with_context(|| format!("explaining {sql}"))?;
    Ok(rows.into_iter().map(|(_, _, _, detail)| detail).collect())
}

/// The generic plan of `sql` (prepared, then explained with NULL parameters): its root node.
async fn explain_postgres(conn: &mut sqlx::PgConnection, sql: &str) -> Result<serde_json::Value> {
    let prepare = format!("PREPARE settle_plan AS {sql}");
    conn.execute(prepare.as_str()).await.with_context(|| format!("preparing {sql}"))?;
    let nulls = vec!["NULL"; parameter_count(sql)].join(", ");
    let execute = if nulls.is_empty() {
        "EXPLAIN (FORMAT JSON) EXECUTE settle_plan".to_owned()
    } else {
        format!("EXPLAIN (FORMAT JSON) EXECUTE settle_plan({nulls})")
    };
    let explained: Result<(serde_json::Value,), _> =
        sqlx::query_as(&execute).fetch_one(&mut *conn).await;
    conn.execute("DEALLOCATE settle_plan").await?;
    let (plan,) = explained.with_context(|| format!("explaining {sql}"))?;
    Ok(plan[0]["Plan"].clone())
}

fn growing(table: &str) -> bool {
    GROWING_TABLES.contains(&table)
}

/// A PostgreSQL plan node (and its children) reads a growing table in full: a sequential scan
/// (only chosen with sequential scans priced out when no index applies), an index walked end to
/// end with no bound and no limit, or a sort of rows found without an index condition.
fn postgres_scans_in_full(node: &serde_json::Value, under_limit: bool) -> bool {
    let kind = node["Node Type"].as_str().unwrap_or_default();
    let table = node["Relation Name"].as_str().unwrap_or_default();
    let bounded = node.get("Index Cond").is_some();
    let full = match kind {
        "Seq Scan" => growing(table),
        "Index Scan" | "Index Only Scan" => growing(table) && !bounded && !under_limit,
        _ => false,
    };
    let under_limit = under_limit || kind == "Limit";
    // A sort under a limit that reads every due row to take the first is the lease query's
    // old cost: a limit only bounds the sort if its input comes in index order.
    if kind == "Sort" && under_limit && sorts_growing_rows(node) {
        return true;
    }
    full || node["Plans"]
        .as_array()
        .into_iter()
        .flatten()
        .any(|child| postgres_scans_in_full(child, under_limit && kind != "Sort"))
}

/// Whether a sort node's input reads a growing table (however it is found).
fn sorts_growing_rows(node: &serde_json::Value) -> bool {
    node["Plans"].as_array().into_iter().flatten().any(|child| {
        let table = child["Relation Name"].as_str().unwrap_or_default();
        growing(table) || sorts_growing_rows(child)
    })
}

/// An SQLite plan reads a growing table in full: `SCAN t` (or an index walked end to end with
/// no `LIMIT` to stop it).
fn sqlite_scans_in_full(sql: &str, plan: &[String]) -> bool {
    let limited = sql.to_ascii_uppercase().contains("LIMIT");
    plan.iter().any(|detail| {
        let Some(rest) = detail.strip_prefix("SCAN ") else { return false };
        let table = rest.split_whitespace().next().unwrap_or_default();
        let by_index = rest.contains(" USING ");
        growing(table) && !(by_index && limited)
    })
}
