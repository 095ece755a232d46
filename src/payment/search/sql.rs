//! The SQL of the payment list: one `FROM … WHERE …` for a filter, its bind values, and the
//! keyset condition and order of a sort. Text is built from constants only; every value the
//! admin typed is a bind parameter.

use chrono::{DateTime, Utc};

use super::filter::{PaymentFilter, Sort};

/// A value to bind, in the order of its `$n`.
#[derive(Clone, Debug)]
pub enum Bind {
    /// Text.
    Text(String),
    /// An integer.
    Int(i64),
    /// A time.
    Time(DateTime<Utc>),
}

/// Binds every value of a [`Bind`] list to a sqlx query (inside `with_db!`, so the same code
/// serves both backends).
#[macro_export]
#[doc(hidden)]
macro_rules! bind_all {
    ($query:expr, $binds:expr) => {{
        let mut query = $query;
        for bind in $binds {
            query = match bind {
                $crate::payment::search::sql::Bind::Text(v) => query.bind(v.clone()),
                $crate::payment::search::sql::Bind::Int(v) => query.bind(*v),
                $crate::payment::search::sql::Bind::Time(v) => query.bind(*v),
            };
        }
        query
    }};
}

/// The joins every list query reads through: the purchase paid, its service, the customer and
/// the merchant (the last two for names only).
pub const FROM: &str = "FROM payments p
    JOIN purchases pu ON pu.id = p.purchase_id
    JOIN services s ON s.id = pu.service_id
    LEFT JOIN customers c ON c.id = s.customer_id
    LEFT JOIN merchants m ON m.id = pu.merchant_id";

/// The columns of one list row (see `ListRow`).
pub const COLUMNS: &str = "p.id, p.reference, p.state, p.currency, p.amount_minor, p.gateway_id,
    p.card_brand, p.card_last4, p.created_at, p.updated_at, pu.reference AS purchase_reference,
    pu.merchant_reference, s.reference AS service_reference, s.customer_id,
    c.name AS customer_name, pu.merchant_id, m.name AS merchant_name";

/// A WHERE clause under construction, with its binds.
#[derive(Debug, Default)]
pub struct Where {
    conditions: Vec<String>,
    /// The values, in placeholder order.
    pub binds: Vec<Bind>,
}

impl Where {
    /// The next placeholder for `value`.
    fn param(&mut self, value: Bind) -> String {
        self.binds.push(value);
        format!("${}", self.binds.len())
    }

    fn push(&mut self, condition: String) {
        self.conditions.push(condition);
    }

    /// ` WHERE a AND b`, or nothing.
    pub fn clause(&self) -> String {
        if self.conditions.is_empty() {
            String::new()
        } else {
            format!(" WHERE {}", self.conditions.join(" AND "))
        }
    }

    /// The conditions of `filter`.
    pub fn of(filter: &PaymentFilter) -> Where {
        let mut w = Where::default();
        if let Some(q) = &filter.q {
            // Every key is an exact match on an indexed column: the payment's reference, the
            // purchase's public reference (invoice id), id (order / purchase id) or merchant
            // reference, the service's reference (policy number / service id), and four digits
            // as a card's last four.
            let p = w.param(Bind::Text(q.clone()));
            let mut any = vec![
                format!("p.reference = {p}"),
                format!(
                    "p.purchase_id IN (SELECT id FROM purchases WHERE reference = {p} OR id = {p} OR merchant_reference = {p})"
                ),
                format!(
                    "p.purchase_id IN (SELECT pu2.id FROM services s2 JOIN purchases pu2 ON pu2.service_id = s2.id WHERE s2.reference = {p})"
                ),
            ];
            if q.len() == 4 && q.bytes().all(|b| b.is_ascii_digit()) {
                any.push(format!("p.card_last4 = {p}"));
            }
            w.push(format!("({})", any.join(" OR ")));
        }
        if let Some(state) = filter.state {
            let p = w.param(Bind::Int(i64::from(state.code())));
            w.push(format!("p.state = {p}"));
        }
        if let Some(gateway) = &filter.gateway {
            let p = w.param(Bind::Text(gateway.clone()));
            w.push(format!("p.gateway_id = {p}"));
        }
        if let Some(merchant) = &filter.merchant {
            let p = w.param(Bind::Text(merchant.clone()));
            w.push(format!("pu.merchant_id = {p}"));
        }
        if let Some(customer) = &filter.customer {
            let p = w.param(Bind::Text(customer.clone()));
            w.push(format!(
                "s.customer_id IN (SELECT id FROM customers WHERE id = {p} OR code = {p} OR email = {p})"
            ));
        }
        if let Some(product) = &filter.product {
            let p = w.param(Bind::Text(product.clone()));
            w.push(format!(
                "s.product_id IN (SELECT id FROM products WHERE id = {p} OR code = {p})"
            ));
        }
        if let Some(currency) = filter.currency {
            let p = w.param(Bind::Text(currency.code().to_owned()));
            w.push(format!("p.currency = {p}"));
        }
        if let Some(from) = filter.created_from() {
            let p = w.param(Bind::Time(from));
            w.push(format!("p.created_at >= {p}"));
        }
        if let Some(before) = filter.created_before() {
            let p = w.param(Bind::Time(before));
            w.push(format!("p.created_at < {p}"));
        }
        if let Some(min) = filter.min_minor {
            let p = w.param(Bind::Int(min));
            w.push(format!("p.amount_minor >= {p}"));
        }
        if let Some(max) = filter.max_minor {
            let p = w.param(Bind::Int(max));
            w.push(format!("p.amount_minor <= {p}"));
        }
        w
    }

    /// Rows strictly after (`forward`) or before the row with sort key `key` and id `id`, in
    /// `sort`'s order: a row-value comparison the (key, id) index seeks to.
    pub fn seek(&mut self, sort: Sort, key: Bind, id: &str, forward: bool) {
        let column = sort_column(sort);
        let k = self.param(key);
        let i = self.param(Bind::Text(id.to_owned()));
        let op = if sort.descending() == forward { "<" } else { ">" };
        self.push(format!("({column}, p.id) {op} ({k}, {i})"));
    }
}

/// The sort key's column.
fn sort_column(sort: Sort) -> &'static str {
    if sort.by_amount() { "p.amount_minor" } else { "p.created_at" }
}

/// ` ORDER BY …` for `sort`, or its reverse (to read the page before a cursor).
pub fn order_by(sort: Sort, reversed: bool) -> String {
    let column = sort_column(sort);
    let dir = if sort.descending() != reversed { "DESC" } else { "ASC" };
    format!(" ORDER BY {column} {dir}, p.id {dir}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_value_is_a_parameter_and_the_seek_follows_the_order() {
        let filter = PaymentFilter {
            q: Some("1234".into()),
            gateway: Some("x' OR 1=1 --".into()),
            ..PaymentFilter::default()
        };
        let mut w = Where::of(&filter);
        w.seek(Sort::Newest, Bind::Int(1), "id", true);
        let clause = w.clause();
        assert!(!clause.contains("OR 1=1"));
        assert!(clause.contains("p.card_last4 = $1"), "four digits search the card: {clause}");
        assert!(clause.contains("(p.created_at, p.id) < ($3, $4)"), "{clause}");
        assert_eq!(w.binds.len(), 4);
        assert_eq!(order_by(Sort::Newest, false), " ORDER BY p.created_at DESC, p.id DESC");
        assert_eq!(order_by(Sort::AmountAsc, true), " ORDER BY p.amount_minor DESC, p.id DESC");
        let mut back = Where::default();
        back.seek(Sort::AmountAsc, Bind::Int(5), "id", false);
        assert!(back.clause().contains("(p.amount_minor, p.id) < ($1, $2)"));
    }
}
