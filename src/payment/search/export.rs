//! The filtered payment list as CSV, read in keyset batches: each call to
//! [`Export::next_chunk`] reads [`BATCH`] rows after the last one written and turns them into
//! CSV, so an export of any size holds one batch in memory at a time (the server streams the
//! chunks as they come).

use crate::access::Viewer;
use crate::db::Db;
use crate::error::{Error, Result};

use super::{PaymentFilter, PaymentSummary, Sort, cursor_of, fetch, staff_only};

/// Rows read per query.
pub const BATCH: usize = 500;

/// The CSV header row.
pub const HEADER: [&str; 14] = [
    "reference",
    "created_at",
    "updated_at",
    "state",
    "state_name",
    "currency",
    "amount",
    "gateway",
    "card",
    "customer",
    "merchant",
    "service_reference",
    "purchase_reference",
    "merchant_reference",
];

/// An export under way: the filter, the order, and the cursor of the last row written.
#[derive(Debug)]
pub struct Export {
    filter: PaymentFilter,
    sort: Sort,
    after: Option<String>,
    header_written: bool,
    done: bool,
}

impl Export {
    /// Starts an export of `filter` in `sort`'s order; staff only.
    pub fn start(viewer: &Viewer, filter: PaymentFilter, sort: Sort) -> Result<Export> {
        staff_only(viewer)?;
        Ok(Export { filter, sort, after: None, header_written: false, done: false })
    }

    /// The next piece of the file (the header comes with the first), or `None` at the end.
    pub async fn next_chunk(&mut self, db: &Db) -> Result<Option<Vec<u8>>> {
        if self.done {
            return Ok(None);
        }
        let cursor = self.after.as_deref().map(|c| (c, "after"));
        let rows = fetch(db, &self.filter, self.sort, cursor, true, BATCH).await?;
        if rows.len() < BATCH {
            self.done = true;
        }
        if let Some(last) = rows.last() {
            self.after = Some(cursor_of(self.sort, last));
        }
        if rows.is_empty() && self.header_written {
            return Ok(None);
        }
        let mut out = csv::Writer::from_writer(Vec::with_capacity(rows.len() * 160));
        if !self.header_written {
            out.write_record(HEADER).map_err(internal)?;
            self.header_written = true;
        }
        for row in &rows {
            out.write_record(record(row)).map_err(internal)?;
        }
        out.into_inner().map(Some).map_err(|e| Error::Internal(e.to_string()))
    }
}

fn internal(e: csv::Error) -> Error {
    Error::Internal(format!("writing CSV: {e}"))
}

/// One payment's fields, in [`HEADER`]'s order. Text that a spreadsheet would run as a formula
/// (merchant references and names come from outside) is prefixed with `'`.
fn record(row: &PaymentSummary) -> Vec<String> {
    let card = match (&row.card_brand, &row.card_last4) {
        (Some(brand), Some(last4)) => format!("{brand} {last4}"),
        (None, Some(last4)) => last4.clone(),
        _ => String::new(),
    };
    vec![
        row.reference.clone(),
        row.created_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        row.updated_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        row.state.code().to_string(),
        row.state.name().to_owned(),
        row.amount.currency().code().to_owned(),
        row.amount.to_decimal().to_string(),
        row.gateway_id.clone(),
        card,
        safe(row.customer_name.as_deref().unwrap_or(&row.customer_id)),
        safe(row.merchant_name.as_deref().unwrap_or_default()),
        safe(&row.service_reference),
        safe(row.purchase_reference.as_deref().unwrap_or_default()),
        safe(row.merchant_reference.as_deref().unwrap_or_default()),
    ]
}

/// `text`, defused for spreadsheets when it starts like a formula.
fn safe(text: &str) -> String {
    if text.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{text}")
    } else {
        text.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::safe;

    #[test]
    fn formulas_are_defused() {
        assert_eq!(safe("=HYPERLINK(\"x\")"), "'=HYPERLINK(\"x\")");
        assert_eq!(safe("INV-1"), "INV-1");
    }
}
