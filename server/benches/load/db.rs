//! What the bench reads and writes straight in Settle's database: the job queue's depth, and a
//! million purchase lines (with their customers, policies and purchases, consistent with the
//! schema) to show the payment path doesn't slow down as the tables grow.

use std::time::{Duration, Instant};

use anyhow::Result;
use chrono::Utc;
use settle::db::Db;

/// Lines per seeded purchase.
const LINES_PER_PURCHASE: u64 = 4;
/// Seeded policies per seeded customer.
const SERVICES_PER_CUSTOMER: u64 = 10;

/// Jobs due now and not finished (pending or running).
pub async fn queue_depth(db: &Db) -> Result<i64> {
    let sql = "SELECT COUNT(*) FROM jobs WHERE status IN ('pending', 'running') AND run_at <= $1";
    Ok(
        settle::with_db!(db, pool => sqlx::query_scalar(sql).bind(Utc::now()).fetch_one(pool).await)?,
    )
}

/// The queue after a case: its depth, and how long it took to drain to zero (`None`: not within
/// `cap`).
pub async fn drain(db: &Db, cap: Duration) -> Result<(i64, Option<Duration>)> {
    let began = Instant::now();
    let depth = queue_depth(db).await?;
    let mut left = depth;
    while left > 0 {
        if began.elapsed() > cap {
            return Ok((depth, None));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        left = queue_depth(db).await?;
    }
    Ok((depth, Some(began.elapsed())))
}

/// Purchase lines in the database.
pub async fn purchase_lines(db: &Db) -> Result<i64> {
    let sql = "SELECT COUNT(*) FROM purchase_lines";
    Ok(settle::with_db!(db, pool => sqlx::query_scalar(sql).fetch_one(pool).await)?)
}

/// Adds `lines` purchase lines (rounded down to whole purchases of 4 lines): paid 4-day
/// short-term policies of the demo merchant's product, 10 per customer, in bulk SQL
/// (`generate_series` on PostgreSQL, a recursive CTE on SQLite). Ids are UUID-shaped and sort
/// before every real (v7) id, as older rows would. Returns how many lines were added.
pub async fn seed_purchase_lines(db: &Db, lines: u64) -> Result<u64> {
    let purchases = lines / LINES_PER_PURCHASE;
    let customers = purchases.div_ceil(SERVICES_PER_CUSTOMER);
    let (product_id, merchant_id): (String, String) = settle::with_db!(db, pool => sqlx::query_as(
        "SELECT p.id, s.merchant_id FROM services s JOIN products p ON p.id = s.product_id
         WHERE p.code = 'SHORT-MOTOR' AND s.merchant_id IS NOT NULL LIMIT 1"
    ).fetch_one(pool).await)?;
    let now = Utc::now();
    let statements = [
        (
            customers,
            "INSERT INTO customers (id, code, name, created_at, merchant_id)
             SELECT {id0}, 'SEED-' || n, 'Seeded customer ' || n, $1, $2 FROM {seq}",
        ),
        (
            purchases,
            "INSERT INTO services (id, reference, kind, customer_id, product_id, merchant_id, status,
                 billing_status, details, created_at, updated_at)
             SELECT {id1}, 'SEED/' || n || '/SHORT', 'policy', {cust}, $3, $2, 'active', 'PaidUp',
                 '{}', $1, $1 FROM {seq}",
        ),
        (
            purchases,
            "INSERT INTO purchases (id, service_id, status, currency, amount_excl_minor, tax_minor,
                 amount_minor, purchase_date, paid_at, created_at, reference, merchant_id,
                 customer_id, details)
             SELECT {id2}, {id1}, 'paid', 'GBP', 4584, 552, 5136, $1, $1, $1, 'SEED-P-' || n, $2,
                 {cust}, '{}' FROM {seq}",
        ),
        (
            purchases * LINES_PER_PURCHASE,
            "INSERT INTO purchase_lines (id, purchase_id, line_type, description, quantity,
                 unit_price_minor, period_per_quantity, tax_rate_bp, amount_excl_minor, tax_minor,
                 amount_minor)
             SELECT {id3}, {line_purchase}, 1, 'Short-term motor cover, 1 day', 1, 1146, 1, 1200,
                 1146, 138, 1284 FROM {seq}",
        ),
    ];
    for (rows, template) in statements {
        let sql = dialect(db, template, rows);
        // Each statement binds the parameters it uses, and only those (PostgreSQL counts them).
        let uses = |n: &str| sql.contains(n);
        settle::with_db!(db, pool => {
            let mut query = sqlx::query(&sql);
            if uses("$1") {
                query = query.bind(now);
            }
            if uses("$2") {
                query = query.bind(&merchant_id);
            }
            if uses("$3") {
                query = query.bind(&product_id);
            }
            query.execute(pool).await.map(|_| ())
        })?;
    }
    if let Db::Postgres(pool) = db {
        // What autovacuum would do shortly after such a load; the figures are of the steady state.
        sqlx::query("ANALYZE").execute(pool).await?;
    }
    Ok(purchases * LINES_PER_PURCHASE)
}

/// The template in the backend's words: `{seq}` rows numbered `n` from 1 to `rows`, `{idK}` the
/// UUID-shaped id of row `n` of table K, `{cust}` the customer of policy `n`, `{line_purchase}`
/// the purchase of line `n`.
fn dialect(db: &Db, template: &str, rows: u64) -> String {
    let (seq, id, int_div) = match db {
        Db::Postgres(_) => (
            format!("generate_series(1, {rows}) AS n"),
            "'00000000-0000-700K-8000-' || lpad(({expr})::text, 12, '0')",
            "(({a}) - 1) / {b} + 1",
        ),
        Db::Sqlite(_) => (
            format!(
                "(WITH RECURSIVE s(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM s WHERE n < {rows}) SELECT n FROM s)"
            ),
            "printf('00000000-0000-700K-8000-%012d', {expr})",
            "((({a}) - 1) / {b} + 1)",
        ),
    };
    let id_of = |k: &str, expr: &str| id.replace('K', k).replace("{expr}", expr);
    let div = |a: &str, b: u64| int_div.replace("{a}", a).replace("{b}", &b.to_string());
    template
        .replace("{seq}", &seq)
        .replace("{id0}", &id_of("0", "n"))
        .replace("{id1}", &id_of("1", "n"))
        .replace("{id2}", &id_of("2", "n"))
        .replace("{id3}", &id_of("3", "n"))
        .replace("{cust}", &id_of("0", &div("n", SERVICES_PER_CUSTOMER)))
        .replace("{line_purchase}", &id_of("2", &div("n", LINES_PER_PURCHASE)))
}
