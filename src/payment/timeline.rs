//! One time-ordered story of a payment for the admin: every state transition and note (with the
//! gateway's answer behind it), every notification the gateway sent, every webhook Settle sent
//! the merchant (each delivery attempt), refunds, and staff actions from the audit log.
//!
//! The pieces are stored where they happen (payment events, gateway notifications, webhook
//! events and attempts, refunds, the audit log); this reads them together, staff only, and masks
//! secrets and card numbers once more before anything is shown.

use chrono::{DateTime, Utc};
use serde_json::Value;

use crate::access::Viewer;
use crate::db::Db;
use crate::error::{Error, Result};
use crate::payment::record::Payment;
use crate::payment::{PaymentState, event};
use crate::with_db;

/// What kind of thing happened.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EntryKind {
    /// The payment moved from one state to another.
    Transition,
    /// Something was recorded without a change of state (a retry, a duplicate).
    Note,
    /// The gateway answered a request (its answer, masked).
    GatewayExchange,
    /// The gateway told Settle about the payment.
    NotificationReceived,
    /// Settle told the merchant (one delivery attempt, or one still to come).
    WebhookSent,
    /// Money given back.
    Refund,
    /// An admin or operator acted on the payment.
    StaffAction,
}

impl EntryKind {
    /// The kind in words.
    pub fn label(self) -> &'static str {
        match self {
            EntryKind::Transition => "State change",
            EntryKind::Note => "Note",
            EntryKind::GatewayExchange => "Gateway exchange",
            EntryKind::NotificationReceived => "Notification received",
            EntryKind::WebhookSent => "Webhook sent",
            EntryKind::Refund => "Refund",
            EntryKind::StaffAction => "Staff action",
        }
    }

    /// A short stable name (CSS classes, tests).
    pub fn as_str(self) -> &'static str {
        match self {
            EntryKind::Transition => "transition",
            EntryKind::Note => "note",
            EntryKind::GatewayExchange => "gateway",
            EntryKind::NotificationReceived => "notification",
            EntryKind::WebhookSent => "webhook",
            EntryKind::Refund => "refund",
            EntryKind::StaffAction => "staff",
        }
    }
}

/// One entry of the timeline.
#[derive(Clone, Debug)]
pub struct Entry {
    /// When.
    pub at: DateTime<Utc>,
    /// What kind of thing.
    pub kind: EntryKind,
    /// What happened, in a line.
    pub title: String,
    /// Facts that go with it (`from → to`, a status code, a gateway reference).
    pub detail: Vec<String>,
    /// The message exchanged, masked, pretty-printed.
    pub payload: Option<String>,
}

/// Keys masked in anything shown besides those the payment events already mask.
const SHOWN_SECRET_KEYS: &[&str] = &[
    "signature",
    "signing_secret",
    "webhook_secret",
    "webhook-signature",
    "hmac",
    "cvv2",
    "expiry",
    "expiry_date",
    "access_token",
    "refresh_token",
];

/// The payment's timeline, oldest first; staff only.
pub async fn of_payment(db: &Db, viewer: &Viewer, payment: &Payment) -> Result<Vec<Entry>> {
    if *viewer != Viewer::Staff {
        return Err(Error::Forbidden);
    }
    let mut entries = Vec::new();
    for e in event::timeline(db, &payment.id).await? {
        entries.push(from_event(e));
    }
    entries.extend(notifications(db, payment).await?);
    entries.extend(webhooks(db, payment).await?);
    for refund in crate::payment::refund::Refund::for_payment(db, &payment.id).await? {
        let mut detail = vec![
            format!("Amount: {}", refund.amount.display()),
            format!("Status: {}", refund.status.as_str()),
            format!("Kind: {}", refund.kind.as_str()),
        ];
        detail.extend(refund.gateway_reference.map(|r| format!("Gateway reference: {r}")));
        detail.extend(refund.failure_reason.map(|r| format!("Refused: {r}")));
        entries.push(Entry {
            at: refund.created_at,
            kind: EntryKind::Refund,
            title: format!("Refund: {}", refund.reason),
            detail,
            payload: None,
        });
    }
    let subject = format!("payment:{}", payment.reference);
    for a in crate::audit::page(db, Some(&subject), None, 500).await? {
        entries.push(Entry {
            at: a.at,
            kind: EntryKind::StaffAction,
            title: format!("{} by {}", a.action, a.actor),
            detail: vec![a.detail, format!("From {}", a.address)],
            payload: None,
        });
    }
    // A stable sort: entries of one source keep their stored order at equal times.
    entries.sort_by_key(|e| e.at);
    Ok(entries)
}

fn state_name(s: Option<PaymentState>) -> String {
    s.map_or_else(|| "—".to_owned(), |s| format!("{} ({})", s.name(), s.code()))
}

fn from_event(e: event::PaymentEvent) -> Entry {
    let kind = match (e.to, &e.payload) {
        (Some(_), _) if e.from != e.to => EntryKind::Transition,
        (_, Some(_)) => EntryKind::GatewayExchange,
        _ => EntryKind::Note,
    };
    let mut detail = Vec::new();
    if kind == EntryKind::Transition {
        detail.push(match e.from {
            Some(_) => format!("{} → {}", state_name(e.from), state_name(e.to)),
            None => format!("Created as {}", state_name(e.to)),
        });
    }
    detail.extend(e.gateway_reference.map(|r| format!("Gateway reference: {r}")));
    Entry {
        at: e.at,
        kind,
        title: mask_text(&e.cause),
        detail,
        payload: e.payload.as_ref().map(shown),
    }
}

async fn notifications(db: &Db, payment: &Payment) -> Result<Vec<Entry>> {
    let sql = "SELECT gateway_id, gateway_reference, event_id, outcome, received_at
               FROM gateway_notifications WHERE payment_id = $1 ORDER BY received_at";
    let rows: Vec<(String, String, String, String, DateTime<Utc>)> =
        with_db!(db, pool => sqlx::query_as(sql).bind(&payment.id).fetch_all(pool).await)?;
    Ok(rows
        .into_iter()
        .map(|(gateway, reference, event_id, outcome, at)| Entry {
            at,
            kind: EntryKind::NotificationReceived,
            title: format!("Notification from {gateway}"),
            detail: vec![
                format!("Event: {}", mask_text(&event_id)),
                format!("Gateway reference: {reference}"),
                format!("Outcome: {outcome}"),
            ],
            payload: None,
        })
        .collect())
}

type AttemptRow = (
    i64,
    String,
    String,
    DateTime<Utc>,
    Option<i64>,
    i64,
    String,
    Option<i64>,
    Option<String>,
    Option<String>,
    Option<DateTime<Utc>>,
);

/// Webhooks about the payment (its reference) or the purchase it pays (seed 001's invoice
/// events), one entry per delivery attempt, or one for an event not attempted yet.
async fn webhooks(db: &Db, payment: &Payment) -> Result<Vec<Entry>> {
    let purchase = crate::purchase::Purchase::find(db, &payment.purchase_id).await?;
    let purchase_ref = purchase.as_ref().map_or_else(String::new, |p| p.reference.clone());
    let sql = "SELECT e.id, e.kind, e.subject, e.created_at, a.status_code, e.attempts,
                      e.invocation, a.attempt, a.url, a.error, a.attempted_at
               FROM webhook_events e
               LEFT JOIN webhook_attempts a ON a.event_id = e.id
               WHERE e.subject IN ($1, $2, $3)
               ORDER BY e.id, a.attempt";
    let rows: Vec<AttemptRow> = with_db!(db, pool => sqlx::query_as(sql)
        .bind(&payment.reference)
        .bind(&purchase_ref)
        .bind(payment.purchase_id.as_str())
        .fetch_all(pool)
        .await)?;
    Ok(rows
        .into_iter()
        .map(
            |(
                id,
                kind,
                subject,
                created,
                status,
                attempts,
                invocation,
                attempt,
                url,
                error,
                at,
            )| {
                let mut detail = vec![format!("Event {id} about {subject}")];
                match attempt {
                    Some(n) => {
                        detail.push(format!("Attempt {n} to {}", url.unwrap_or_default()));
                        detail.push(match status {
                            Some(code) => format!("Response: HTTP {code}"),
                            None => "Response: none".to_owned(),
                        });
                        detail.extend(error.map(|e| format!("Error: {}", mask_text(&e))));
                    }
                    None => detail.push(format!("{invocation}, {attempts} attempts so far")),
                }
                Entry {
                    at: at.unwrap_or(created),
                    kind: EntryKind::WebhookSent,
                    title: format!("Webhook {kind}"),
                    detail,
                    payload: None,
                }
            },
        )
        .collect())
}

/// A payload as shown: secrets and card data masked (again), digit runs that could be a card
/// number blanked, pretty-printed.
fn shown(payload: &Value) -> String {
    let keys: Vec<&str> =
        crate::redact::CARD_DATA_KEYS.iter().chain(SHOWN_SECRET_KEYS).copied().collect();
    let masked = mask_numbers(&crate::redact::redact(&event::redact(payload), &keys));
    serde_json::to_string_pretty(&masked).unwrap_or_default()
}

fn mask_numbers(value: &Value) -> Value {
    match value {
        Value::String(s) => Value::String(mask_text(s)),
        Value::Array(items) => Value::Array(items.iter().map(mask_numbers).collect()),
        Value::Object(map) => {
            Value::Object(map.iter().map(|(k, v)| (k.clone(), mask_numbers(v))).collect())
        }
        Value::Number(n) if n.to_string().len() >= 13 => {
            Value::String(crate::redact::REDACTED.to_owned())
        }
        other => other.clone(),
    }
}

/// `text` with every run of 13 to 19 digits (spaces and dashes allowed between them, as card
/// numbers are written) but the last four replaced by `•`.
pub fn mask_text(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < chars.len() {
        if chars[i].is_ascii_digit() {
            // The run: digits, with single separators between them.
            let mut j = i;
            let mut digits = 0;
            while j < chars.len() {
                if chars[j].is_ascii_digit() {
                    digits += 1;
                    j += 1;
                } else if matches!(chars[j], ' ' | '-')
                    && chars.get(j + 1).is_some_and(char::is_ascii_digit)
                {
                    j += 1;
                } else {
                    break;
                }
            }
            let run = &chars[i..j];
            if (13..=19).contains(&digits) {
                let mut seen = 0;
                for &c in run {
                    if c.is_ascii_digit() {
                        seen += 1;
                        out.push(if seen > digits - 4 { c } else { '•' });
                    } else {
                        out.push(c);
                    }
                }
            } else {
                out.extend(run);
            }
            i = j;
        } else {
            out.push(chars[i]);
            i += 1;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn card_numbers_and_secrets_never_show() {
        assert_eq!(mask_text("card 4929 0000 0000 6 declined"), "card •••• •••• •000 6 declined");
        assert_eq!(mask_text("PAY-1234 for 5100"), "PAY-1234 for 5100");
        let shown = shown(&json!({
            "cardNumber": "4462000000000003",
            "note": "paid with 4462000000000003",
            "signature": "abc",
            "amount": "10.00",
            "big": 4462000000000003_i64
        }));
        assert!(!shown.contains("4462000000000003"), "{shown}");
        assert!(!shown.contains("abc"), "{shown}");
        assert!(shown.contains("10.00"));
    }
}
