//! The admin's payment list: filters and search ([`filter`]), keyset pages in four orders,
//! totals of the filtered set, and its CSV export ([`export`]), all reached as staff.
//!
//! Pages are keyset pages: a cursor is the last row's (sort key, id), and the next page seeks
//! to it through the (key, id) index, so page 1,000 costs what page 1 costs (no OFFSET).

pub mod export;
pub mod filter;
pub mod sql;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};

use crate::access::Viewer;
use crate::db::Db;
use crate::error::{Error, Result};
use crate::money::{Currency, Money};
use crate::payment::PaymentState;
use crate::payment::record::PaymentId;
use crate::text_enum::stored;
use crate::{bind_all, with_db};

pub use filter::{ListQuery, PaymentFilter, QUERY_KEYS, Sort};
use sql::{Bind, COLUMNS, FROM, Where, order_by};

/// Rows per page of the list.
pub const PAGE_SIZE: usize = 25;

/// One payment as the list shows it.
#[derive(Clone, Debug)]
pub struct PaymentSummary {
    /// Internal id (the keyset's tie-breaker).
    pub id: PaymentId,
    /// The reference clients see.
    pub reference: String,
    /// Where it stands.
    pub state: PaymentState,
    /// How much.
    pub amount: Money,
    /// The gateway's id.
    pub gateway_id: String,
    /// Card brand, for card payments.
    pub card_brand: Option<String>,
    /// The card's last four digits, for card payments.
    pub card_last4: Option<String>,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
    /// The purchase's public reference (invoice id).
    pub purchase_reference: Option<String>,
    /// The merchant's reference for the purchase.
    pub merchant_reference: Option<String>,
    /// The service's reference (policy number, service id).
    pub service_reference: String,
    /// The customer's id.
    pub customer_id: String,
    /// The customer's name.
    pub customer_name: Option<String>,
    /// The merchant's id.
    pub merchant_id: Option<String>,
    /// The merchant's name.
    pub merchant_name: Option<String>,
}

#[derive(sqlx::FromRow)]
struct ListRow {
    id: PaymentId,
    reference: String,
    state: i64,
    currency: String,
    amount_minor: i64,
    gateway_id: String,
    card_brand: Option<String>,
    card_last4: Option<String>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    purchase_reference: Option<String>,
    merchant_reference: Option<String>,
    service_reference: String,
    customer_id: String,
    customer_name: Option<String>,
    merchant_id: Option<String>,
    merchant_name: Option<String>,
}

impl TryFrom<ListRow> for PaymentSummary {
    type Error = Error;

    fn try_from(r: ListRow) -> Result<PaymentSummary> {
        let currency: Currency = stored("payments.currency", &r.currency)?;
        let state = i16::try_from(r.state)
            .ok()
            .and_then(PaymentState::from_code)
            .ok_or_else(|| Error::Internal(format!("payments.state {} is unknown", r.state)))?;
        Ok(PaymentSummary {
            id: r.id,
            reference: r.reference,
            state,
            amount: Money::from_minor(r.amount_minor, currency),
            gateway_id: r.gateway_id,
            card_brand: r.card_brand,
            card_last4: r.card_last4,
            created_at: r.created_at,
            updated_at: r.updated_at,
            purchase_reference: r.purchase_reference,
            merchant_reference: r.merchant_reference,
            service_reference: r.service_reference,
            customer_id: r.customer_id,
            customer_name: r.customer_name,
            merchant_id: r.merchant_id,
            merchant_name: r.merchant_name,
        })
    }
}

/// One page of the list, with the cursors of the pages around it.
#[derive(Clone, Debug)]
pub struct Page {
    /// The rows, in the list's order.
    pub rows: Vec<PaymentSummary>,
    /// The `after` cursor of the next page, if there is one.
    pub next: Option<String>,
    /// The `before` cursor of the previous page, if there is one.
    pub previous: Option<String>,
}

/// The count and sum of the filtered set in one currency.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CurrencyTotal {
    /// How many payments.
    pub count: i64,
    /// Their amounts added up.
    pub sum: Money,
}

/// Staff only: everyone else is refused before a query runs.
fn staff_only(viewer: &Viewer) -> Result<()> {
    match viewer {
        Viewer::Staff => Ok(()),
        _ => Err(Error::Forbidden),
    }
}

/// The opaque cursor of a row in `sort`'s order: the sort key and the id, base64url.
pub fn cursor_of(sort: Sort, row: &PaymentSummary) -> String {
    let key = if sort.by_amount() {
        format!("a{}", row.amount.minor())
    } else {
        format!("t{}", row.created_at.to_rfc3339_opts(chrono::SecondsFormat::Nanos, true))
    };
    URL_SAFE_NO_PAD.encode(format!("{key}|{}", row.id))
}

/// The sort key and id a cursor holds, if it is a cursor of `sort`'s kind.
fn read_cursor(sort: Sort, cursor: &str, field: &str) -> Result<(Bind, String)> {
    let bad =
        || Error::invalid(field, "is not a page of this list (start again from the first page)");
    let text = URL_SAFE_NO_PAD.decode(cursor.trim()).ok().and_then(|b| String::from_utf8(b).ok());
    let (key, id) = text.as_deref().and_then(|t| t.split_once('|')).ok_or_else(bad)?;
    let key = match (sort.by_amount(), key.split_at_checked(1)) {
        (true, Some(("a", n))) => Bind::Int(n.parse().map_err(|_| bad())?),
        (false, Some(("t", t))) => {
            Bind::Time(DateTime::parse_from_rfc3339(t).map_err(|_| bad())?.with_timezone(&Utc))
        }
        _ => return Err(bad()),
    };
    Ok((key, id.to_owned()))
}

/// Up to `limit` rows of the filtered set in `sort`'s order, strictly after (or, with
/// `forward` false, before) the cursor's row; rows before a cursor come nearest first.
pub(crate) async fn fetch(
    db: &Db,
    filter: &PaymentFilter,
    sort: Sort,
    cursor: Option<(&str, &str)>,
    forward: bool,
    limit: usize,
) -> Result<Vec<PaymentSummary>> {
    let mut w = Where::of(filter);
    if let Some((cursor, field)) = cursor {
        let (key, id) = read_cursor(sort, cursor, field)?;
        w.seek(sort, key, &id, forward);
    }
    let sql = format!(
        "SELECT {COLUMNS} {FROM}{}{} LIMIT {}",
        w.clause(),
        order_by(sort, !forward),
        limit
    );
    let rows: Vec<ListRow> = with_db!(db, pool => bind_all!(sqlx::query_as(&sql), &w.binds)
        .fetch_all(pool)
        .await)?;
    rows.into_iter().map(PaymentSummary::try_from).collect()
}

/// One page of the list for `query`: after its `after` cursor, before its `before` cursor, or
/// the first page.
pub async fn list(db: &Db, viewer: &Viewer, query: &ListQuery) -> Result<Page> {
    list_sized(db, viewer, query, PAGE_SIZE).await
}

/// [`list`] with another page size (tests page through small sets).
pub async fn list_sized(db: &Db, viewer: &Viewer, query: &ListQuery, size: usize) -> Result<Page> {
    staff_only(viewer)?;
    let sort = query.sort;
    // One row more than the page tells whether there is another page that way.
    let (cursor, forward) = match (&query.before, &query.after) {
        (Some(before), _) => (Some((before.as_str(), "before")), false),
        (None, Some(after)) => (Some((after.as_str(), "after")), true),
        (None, None) => (None, true),
    };
    let from_cursor = cursor.is_some();
    let mut rows = fetch(db, &query.filter, sort, cursor, forward, size + 1).await?;
    let has_more = rows.len() > size;
    rows.truncate(size);
    if !forward {
        rows.reverse();
    }
    let first = rows.first().map(|r| cursor_of(sort, r));
    let last = rows.last().map(|r| cursor_of(sort, r));
    let (next, previous) = if forward {
        (last.filter(|_| has_more), first.filter(|_| from_cursor))
    } else {
        (last.filter(|_| from_cursor), first.filter(|_| has_more))
    };
    Ok(Page { rows, next, previous })
}

/// Count and sum of the filtered set, per currency (in currency order).
pub async fn totals(
    db: &Db,
    viewer: &Viewer,
    filter: &PaymentFilter,
) -> Result<Vec<CurrencyTotal>> {
    staff_only(viewer)?;
    let w = Where::of(filter);
    // PostgreSQL sums BIGINTs as NUMERIC: cast back so both backends answer an i64.
    let sql = format!(
        "SELECT p.currency, COUNT(*), CAST(COALESCE(SUM(p.amount_minor), 0) AS BIGINT) {FROM}{} GROUP BY p.currency ORDER BY p.currency",
        w.clause()
    );
    let rows: Vec<(String, i64, i64)> =
        with_db!(db, pool => bind_all!(sqlx::query_as(&sql), &w.binds).fetch_all(pool).await)?;
    rows.into_iter()
        .map(|(currency, count, sum)| {
            let currency: Currency = stored("payments.currency", &currency)?;
            Ok(CurrencyTotal { count, sum: Money::from_minor(sum, currency) })
        })
        .collect()
}

/// The choices the list's filter form offers: gateways, merchants and products (id, name).
#[derive(Clone, Debug, Default)]
pub struct Choices {
    /// Gateways.
    pub gateways: Vec<(String, String)>,
    /// Merchants.
    pub merchants: Vec<(String, String)>,
    /// Products.
    pub products: Vec<(String, String)>,
}

/// What the filter form's lists offer (small tables: every gateway, merchant and product).
pub async fn choices(db: &Db, viewer: &Viewer) -> Result<Choices> {
    staff_only(viewer)?;
    let list = |sql: &'static str| async move {
        let rows: Vec<(String, String)> =
            with_db!(db, pool => sqlx::query_as(sql).fetch_all(pool).await)?;
        Ok::<_, Error>(rows)
    };
    Ok(Choices {
        gateways: list("SELECT id, name FROM gateways ORDER BY name, id").await?,
        merchants: list("SELECT id, name FROM merchants ORDER BY name, id").await?,
        products: list("SELECT id, name FROM products ORDER BY name, id").await?,
    })
}
