//! What the admin's payment list is narrowed to, read from the page's query string (the same
//! keys serve the list page and its CSV export).

use chrono::{DateTime, Duration, NaiveDate, Utc};

use crate::error::{Error, FieldError, Result};
use crate::money::{Currency, Money};
use crate::payment::PaymentState;

/// The query keys the list and the export understand.
pub const QUERY_KEYS: &[&str] = &[
    "q", "state", "gateway", "merchant", "customer", "product", "currency", "from", "to", "min",
    "max", "sort", "after", "before",
];

/// The list's orders; each is a keyset over (sort key, id), so a page seeks straight to its
/// cursor instead of skipping the rows before it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Sort {
    /// Newest first (the default).
    #[default]
    Newest,
    /// Oldest first.
    Oldest,
    /// Largest amount first.
    AmountDesc,
    /// Smallest amount first.
    AmountAsc,
}

impl Sort {
    /// Every order, as the page offers them.
    pub const ALL: [Sort; 4] = [Sort::Newest, Sort::Oldest, Sort::AmountDesc, Sort::AmountAsc];

    /// The query value (`sort=amount_desc`).
    pub fn as_str(self) -> &'static str {
        match self {
            Sort::Newest => "newest",
            Sort::Oldest => "oldest",
            Sort::AmountDesc => "amount_desc",
            Sort::AmountAsc => "amount_asc",
        }
    }

    /// The order in words.
    pub fn label(self) -> &'static str {
        match self {
            Sort::Newest => "Newest first",
            Sort::Oldest => "Oldest first",
            Sort::AmountDesc => "Largest amount first",
            Sort::AmountAsc => "Smallest amount first",
        }
    }

    /// The order a query value names.
    pub fn parse(value: &str) -> Result<Sort, FieldError> {
        Sort::ALL.into_iter().find(|s| s.as_str() == value.trim()).ok_or_else(|| {
            FieldError::new("sort", "must be newest, oldest, amount_desc or amount_asc")
        })
    }

    /// Whether the sort key is the amount (rather than the creation time).
    pub fn by_amount(self) -> bool {
        matches!(self, Sort::AmountDesc | Sort::AmountAsc)
    }

    /// Whether the order is descending.
    pub fn descending(self) -> bool {
        matches!(self, Sort::Newest | Sort::AmountDesc)
    }
}

/// What the list is narrowed to. Empty fields don't narrow.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PaymentFilter {
    /// Free text: a payment reference, policy number / service id, merchant reference, invoice
    /// id, order id, or the last four digits of a card (each matched exactly).
    pub q: Option<String>,
    /// One state.
    pub state: Option<PaymentState>,
    /// One gateway (its id).
    pub gateway: Option<String>,
    /// The merchant owed (its id).
    pub merchant: Option<String>,
    /// The customer who owes: their id, their code or their email.
    pub customer: Option<String>,
    /// The product paid for: its id or its code.
    pub product: Option<String>,
    /// One currency.
    pub currency: Option<Currency>,
    /// Created on or after this day (UTC midnight).
    pub from: Option<NaiveDate>,
    /// Created on or before this day (inclusive).
    pub to: Option<NaiveDate>,
    /// At least this amount, in minor units.
    pub min_minor: Option<i64>,
    /// At most this amount, in minor units.
    pub max_minor: Option<i64>,
}

/// A page request: the filter, the order, and where the page starts.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ListQuery {
    /// What the list is narrowed to.
    pub filter: PaymentFilter,
    /// The order.
    pub sort: Sort,
    /// The opaque cursor of the row the page follows (`after`).
    pub after: Option<String>,
    /// The opaque cursor of the row the page precedes (`before`, the previous-page link).
    pub before: Option<String>,
}

impl ListQuery {
    /// Reads a query string (`q=PAY-…&state=6&sort=amount_desc&after=…`). Unknown keys are
    /// ignored; every bad value is reported under its key.
    pub fn from_query(query: &str) -> Result<ListQuery> {
        let pairs: Vec<(String, String)> = serde_urlencoded::from_str(query)
            .map_err(|_| Error::invalid("query", "is not a valid query string"))?;
        let get = |key: &str| {
            pairs
                .iter()
                .rev()
                .find(|(k, _)| k == key)
                .map(|(_, v)| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        let mut errors = Vec::new();
        let mut check = |r: Result<(), FieldError>| {
            if let Err(e) = r {
                errors.push(e);
            }
        };
        let mut filter = PaymentFilter {
            q: get("q"),
            gateway: get("gateway"),
            merchant: get("merchant"),
            customer: get("customer"),
            product: get("product"),
            ..PaymentFilter::default()
        };
        if let Some(state) = get("state") {
            check(parse_state(&state).map(|s| filter.state = Some(s)));
        }
        if let Some(currency) = get("currency") {
            check(
                Currency::parse(&currency)
                    .map(|c| filter.currency = Some(c))
                    .map_err(|e| e.at("currency")),
            );
        }
        if let Some(from) = get("from") {
            check(parse_day(&from, "from").map(|d| filter.from = Some(d)));
        }
        if let Some(to) = get("to") {
            check(parse_day(&to, "to").map(|d| filter.to = Some(d)));
        }
        if let (Some(from), Some(to)) = (filter.from, filter.to)
            && to < from
        {
            check(Err(FieldError::new("to", "must not be before the start date")));
        }
        // Amounts are read in the chosen currency's minor unit (two decimals without one).
        let exponent_of = filter.currency;
        if let Some(min) = get("min") {
            check(parse_amount(&min, exponent_of, "min").map(|m| filter.min_minor = Some(m)));
        }
        if let Some(max) = get("max") {
            check(parse_amount(&max, exponent_of, "max").map(|m| filter.max_minor = Some(m)));
        }
        if let (Some(min), Some(max)) = (filter.min_minor, filter.max_minor)
            && max < min
        {
            check(Err(FieldError::new("max", "must not be less than the minimum")));
        }
        let mut sort = Sort::default();
        if let Some(value) = get("sort") {
            check(Sort::parse(&value).map(|s| sort = s));
        }
        if !errors.is_empty() {
            return Err(Error::Validation(errors));
        }
        Ok(ListQuery { filter, sort, after: get("after"), before: get("before") })
    }

    /// The query string for this filter and order (no cursor), with `extra` pairs appended:
    /// the links to other pages, other orders and the export carry the same filters.
    pub fn to_query(&self, sort: Sort, extra: &[(&str, &str)]) -> String {
        let f = &self.filter;
        let day = |d: Option<NaiveDate>| d.map(|d| d.format("%Y-%m-%d").to_string());
        let exponent = f.currency.map_or(2, |c| c.exponent());
        let amount = |m: Option<i64>| m.map(|m| format_minor(m, exponent));
        let fields: Vec<(&str, Option<String>)> = vec![
            ("q", f.q.clone()),
            ("state", f.state.map(|s| s.code().to_string())),
            ("gateway", f.gateway.clone()),
            ("merchant", f.merchant.clone()),
            ("customer", f.customer.clone()),
            ("product", f.product.clone()),
            ("currency", f.currency.map(|c| c.code().to_owned())),
            ("from", day(f.from)),
            ("to", day(f.to)),
            ("min", amount(f.min_minor)),
            ("max", amount(f.max_minor)),
        ];
        let mut pairs: Vec<(&str, String)> =
            fields.into_iter().filter_map(|(k, v)| v.map(|v| (k, v))).collect();
        if sort != Sort::default() {
            pairs.push(("sort", sort.as_str().to_owned()));
        }
        pairs.extend(extra.iter().map(|(k, v)| (*k, (*v).to_owned())));
        serde_urlencoded::to_string(pairs).unwrap_or_default()
    }
}

impl PaymentFilter {
    /// The first instant the list includes (midnight UTC of `from`).
    pub fn created_from(&self) -> Option<DateTime<Utc>> {
        self.from.and_then(|d| d.and_hms_opt(0, 0, 0)).map(|t| t.and_utc())
    }

    /// The first instant after the list (midnight UTC after `to`: the day is included).
    pub fn created_before(&self) -> Option<DateTime<Utc>> {
        self.to.and_then(|d| d.and_hms_opt(0, 0, 0)).map(|t| t.and_utc() + Duration::days(1))
    }
}

/// A state by its code (`6`) or its name (`PAYMENT_SUCCESS`, any case).
fn parse_state(value: &str) -> Result<PaymentState, FieldError> {
    let by_code = value.parse::<i16>().ok().and_then(PaymentState::from_code);
    by_code
        .or_else(|| PaymentState::ALL.into_iter().find(|s| s.name().eq_ignore_ascii_case(value)))
        .ok_or_else(|| FieldError::new("state", "is not a payment state"))
}

fn parse_day(value: &str, field: &str) -> Result<NaiveDate, FieldError> {
    NaiveDate::parse_from_str(value, "%Y-%m-%d")
        .map_err(|_| FieldError::new(field, "must be a date such as 2026-12-31"))
}

fn parse_amount(value: &str, currency: Option<Currency>, field: &str) -> Result<i64, FieldError> {
    // Without a currency, amounts are read with two decimals (every currency of the demo).
    let currency = currency
        .or_else(|| Currency::parse("ZAR").ok())
        .ok_or_else(|| FieldError::new(field, "can't be read without a currency"))?;
    Money::parse_decimal(value, currency)
        .map(Money::minor)
        .map_err(|_| FieldError::new(field, "must be an amount such as 100.00"))
}

/// Minor units written with `exponent` decimals (`12345`, 2 → `123.45`).
fn format_minor(minor: i64, exponent: u32) -> String {
    if exponent == 0 {
        return minor.to_string();
    }
    let scale = 10_i64.pow(exponent);
    let sign = if minor < 0 { "-" } else { "" };
    let abs = minor.unsigned_abs();
    let scale = scale.unsigned_abs();
    format!("{sign}{}.{:0width$}", abs / scale, abs % scale, width = exponent as usize)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_query_reads_every_key_and_writes_back_the_same_filters() {
        let q = ListQuery::from_query(
            "q=PAY-1&state=PAYMENT_SUCCESS&gateway=g&merchant=m&customer=c&product=p&currency=zar&from=2026-01-01&to=2026-01-31&min=10&max=20.50&sort=amount_asc&after=x&junk=1",
        )
        .unwrap();
        assert_eq!(q.filter.state, Some(PaymentState::PaymentSuccess));
        assert_eq!(q.filter.min_minor, Some(1000));
        assert_eq!(q.filter.max_minor, Some(2050));
        assert_eq!(q.sort, Sort::AmountAsc);
        assert_eq!(q.after.as_deref(), Some("x"));
        let again = ListQuery::from_query(&q.to_query(q.sort, &[])).unwrap();
        assert_eq!(again.filter, q.filter);
        assert_eq!(again.sort, q.sort);
        assert_eq!(
            q.filter.created_before().unwrap().to_rfc3339(),
            "2026-02-01T00:00:00+00:00",
            "the end day is included"
        );
    }

    #[test]
    fn bad_values_are_reported_per_key() {
        let Err(Error::Validation(errors)) =
            ListQuery::from_query("state=99&from=yesterday&min=ten&sort=up")
        else {
            panic!("expected validation errors");
        };
        let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["state", "from", "min", "sort"]);
    }
}
