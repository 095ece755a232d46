//! Billing: what a merchant tells Settle its customers owe — customers, services and purchases
//! with lines — and the rules for them. Settle's merchant API, seed 001's invoices and seed
//! 002's orders all call these use cases; none prices, deduplicates or cancels on its own.

pub mod auto_recharge;
pub mod card_update;
pub mod collection_day;
pub mod config;
mod customers;
mod pricing;
mod purchases;
pub mod scheme;
mod services;
pub mod totals;

pub use customers::{CustomerInput, customers, upsert_customer};
pub use pricing::{LineAmount, NewPurchaseLine};
pub use purchases::{
    NewPurchase, PurchaseQuery, ServiceChoice, cancel_purchase, create_purchase,
    purchase_by_merchant_reference, purchase_by_reference, purchases,
};
pub use services::{NewService, create_service, services};

use crate::error::{FieldError, Result};

/// Whether a create made something new or found what an earlier identical create made.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Created {
    /// Made now.
    New,
    /// Already there (an update, or a repeated create).
    Existing,
}

/// One page of a keyset-paginated list.
#[derive(Clone, Debug)]
pub struct Page<T> {
    /// The items, in the list's order.
    pub items: Vec<T>,
    /// The cursor to pass as `after` for the next page; `None` on the last page.
    pub next_after: Option<String>,
}

impl<T> Page<T> {
    /// A page from up to `limit + 1` fetched items: the extra one only tells that more follow.
    fn of(mut items: Vec<T>, limit: Limit, cursor: impl Fn(&T) -> String) -> Page<T> {
        let more = items.len() as i64 > limit.0;
        items.truncate(limit.0 as usize);
        let next_after = if more { items.last().map(cursor) } else { None };
        Page { items, next_after }
    }
}

/// How many items a page holds: 1 to 100, 20 unless asked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limit(i64);

impl Limit {
    /// The most a page holds.
    pub const MAX: i64 = 100;

    /// Parses `limit` from a query (absent: 20).
    pub fn parse(raw: Option<&str>) -> Result<Limit, FieldError> {
        let Some(raw) = raw.map(str::trim).filter(|r| !r.is_empty()) else {
            return Ok(Limit(20));
        };
        match raw.parse::<i64>() {
            Ok(n) if (1..=Self::MAX).contains(&n) => Ok(Limit(n)),
            _ => Err(FieldError::new("limit", format!("must be a number from 1 to {}", Self::MAX))),
        }
    }

    /// The limit as a count.
    pub fn get(self) -> i64 {
        self.0
    }

    /// What to fetch: one more than a page, to know whether another follows.
    fn fetch(self) -> i64 {
        self.0 + 1
    }
}

/// A merchant's optional text (`merchant_reference`, `campaign`): trimmed, empty is absent, at
/// most 100 characters, no control characters.
fn optional_text(raw: Option<String>, field: &str) -> Result<Option<String>, FieldError> {
    let Some(text) = raw.map(|r| r.trim().to_owned()).filter(|r| !r.is_empty()) else {
        return Ok(None);
    };
    if text.chars().count() > 100 || text.chars().any(char::is_control) {
        return Err(FieldError::new(
            field,
            "must be at most 100 characters, without control characters",
        ));
    }
    Ok(Some(text))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_are_one_to_a_hundred() {
        assert_eq!(Limit::parse(None).unwrap().get(), 20);
        assert_eq!(Limit::parse(Some("")).unwrap().get(), 20);
        assert_eq!(Limit::parse(Some("100")).unwrap().get(), 100);
        for bad in ["0", "101", "-1", "ten"] {
            assert_eq!(Limit::parse(Some(bad)).unwrap_err().field, "limit", "{bad}");
        }
    }

    #[test]
    fn a_page_knows_whether_another_follows() {
        let limit = Limit::parse(Some("2")).unwrap();
        let page = Page::of(vec![1, 2, 3], limit, |n| n.to_string());
        assert_eq!(page.items, vec![1, 2]);
        assert_eq!(page.next_after.as_deref(), Some("2"));
        let last = Page::of(vec![1, 2], limit, |n| n.to_string());
        assert_eq!(last.next_after, None);
    }

    #[test]
    fn optional_texts_are_trimmed_and_bounded() {
        assert_eq!(optional_text(Some("  A-1 ".into()), "f").unwrap().as_deref(), Some("A-1"));
        assert_eq!(optional_text(Some("   ".into()), "f").unwrap(), None);
        assert!(optional_text(Some("x".repeat(101)), "f").is_err());
        assert!(optional_text(Some("a\u{0}b".into()), "f").is_err());
    }
}
