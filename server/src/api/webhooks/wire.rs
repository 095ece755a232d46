//! Every webhook byte on the wire: the body merchants receive (seed 001's envelope for every
//! event type) and the endpoint API's request and response shapes.

use chrono::{DateTime, SecondsFormat, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use settle::webhook::delivery::Attempt;
use settle::webhook::subject::AdditionalField;
use settle::webhook::{Delivery, Endpoint, EventType, Saved};

/// Seed 001's envelope: `{id, type, createdAt, pendingWebhooks, data}`.
#[derive(Debug, Serialize)]
pub struct Envelope {
    /// The event's Long id (also the `webhook-id` header).
    pub id: i64,
    /// The event type.
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// When this webhook was sent, RFC 3339 with nanoseconds and `Z`.
    #[serde(rename = "createdAt")]
    pub created_at: String,
    /// Attempts left after this one.
    #[serde(rename = "pendingWebhooks")]
    pub pending_webhooks: i64,
    /// The invoice view (`invoice.*`) or Settle's payment view (`payment.*`).
    pub data: Data,
}

/// What an event is about, as its type shows it.
#[derive(Debug, Serialize)]
#[serde(untagged)]
pub enum Data {
    /// Seed 001's invoice.
    Invoice(InvoiceData),
    /// Settle's own payment view.
    Payment(PaymentData),
}

/// Seed 001's `data` for `invoice.*` events. The payment fields are left out where the
/// document's examples leave them out (an error or a rejection has no payment date, mode or
/// collector) and when no payment was made yet (`invoice.created`).
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct InvoiceData {
    id: String,
    status: &'static str,
    #[serde(with = "rust_decimal::serde::arbitrary_precision")]
    total_amount: Decimal,
    #[serde(skip_serializing_if = "Option::is_none")]
    document_no: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    payment_no: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    payment_date: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    payment_mode: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    collector: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    bank_code: Option<String>,
    additional_fields: Vec<FieldView>,
}

/// One `{code, value}` of `additionalFields`.
#[derive(Debug, Serialize)]
pub struct FieldView {
    code: Option<String>,
    value: Option<String>,
}

impl From<&AdditionalField> for FieldView {
    fn from(f: &AdditionalField) -> Self {
        FieldView { code: f.code.clone(), value: f.value.clone() }
    }
}

/// Settle's own `data` for `payment.*` events.
#[derive(Debug, Serialize)]
pub struct PaymentData {
    reference: Option<String>,
    status: Option<&'static str>,
    amount: String,
    currency: &'static str,
    invoice_id: String,
    service: String,
    period_end: Option<DateTime<Utc>>,
    payment_mode: Option<&'static str>,
    gateway: Option<String>,
    failure_reason: Option<String>,
}

fn rfc3339(t: DateTime<Utc>, format: SecondsFormat) -> String {
    t.to_rfc3339_opts(format, true)
}

/// The body of `delivery`, sent at `now`.
pub fn body(delivery: &Delivery, now: DateTime<Utc>) -> String {
    let subject = &delivery.subject;
    let kind = delivery.event.kind;
    let paid = subject.paid_with.as_ref();
    let data = if kind.is_invoice() {
        let with_payment_details =
            !matches!(kind, EventType::InvoicePaymentError | EventType::InvoicePaymentRejected);
        let detail = |f: &dyn Fn(&settle::webhook::subject::PaidWith) -> Option<String>| {
            if with_payment_details { paid.and_then(f) } else { None }
        };
        Data::Invoice(InvoiceData {
            id: subject.invoice_id.clone(),
            status: if subject.is_paid() { "PAID" } else { "UNPAID" },
            total_amount: subject.purchase.amounts.gross().to_decimal(),
            document_no: subject.merchant_reference.clone(),
            payment_no: paid.map(|p| p.payment.reference.clone()),
            payment_date: if with_payment_details {
                subject.payment_date().map(|t| rfc3339(t, SecondsFormat::Micros))
            } else {
                None
            },
            payment_mode: if with_payment_details { paid.map(|p| p.mode.as_str()) } else { None },
            collector: detail(&|p| Some(p.provider.clone())),
            bank_code: detail(&|p| Some(p.provider.clone())),
            additional_fields: subject.additional_fields.iter().map(FieldView::from).collect(),
        })
    } else {
        let amount = paid.map(|p| p.payment.amount).unwrap_or(subject.purchase.amounts.gross());
        Data::Payment(PaymentData {
            reference: paid.map(|p| p.payment.reference.clone()),
            status: paid.map(|p| p.payment.state.name()),
            amount: amount.to_decimal().to_string(),
            currency: amount.currency().code(),
            invoice_id: subject.invoice_id.clone(),
            service: subject.service_reference.clone(),
            period_end: subject.period_end,
            payment_mode: paid.map(|p| p.mode.as_str()),
            gateway: paid.map(|p| p.payment.gateway_id.clone()),
            failure_reason: paid.and_then(|p| p.payment.failure_reason.clone()),
        })
    };
    let envelope = Envelope {
        id: delivery.event.id.0,
        kind: kind.as_str(),
        created_at: rfc3339(now, SecondsFormat::Nanos),
        pending_webhooks: delivery.pending_webhooks,
        data,
    };
    serde_json::to_string(&envelope).unwrap_or_else(|_| "{}".into())
}

/// `PUT /api/webhook-endpoint` body.
#[derive(Debug, Deserialize)]
pub struct SetEndpoint {
    /// Where webhooks go.
    pub url: Option<String>,
    /// Event types to receive; absent keeps the current ones (all for a new endpoint), `[]`
    /// means all.
    pub event_types: Option<Vec<String>>,
}

/// An endpoint as the API shows it; `secret` only when it was just made.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct EndpointView {
    url: String,
    event_types: Vec<&'static str>,
    status: &'static str,
    consecutive_failures: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    secret: Option<String>,
    /// Until when the previous secret still signs (both signatures are sent until then).
    previous_secret_expires_at: Option<DateTime<Utc>>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl EndpointView {
    /// The endpoint without its secret.
    pub fn of(endpoint: &Endpoint) -> EndpointView {
        let now = Utc::now();
        EndpointView {
            url: endpoint.url.to_string(),
            event_types: endpoint.receives().iter().map(|t| t.as_str()).collect(),
            status: endpoint.status.as_str(),
            consecutive_failures: endpoint.consecutive_failures,
            secret: None,
            previous_secret_expires_at: endpoint.previous_expires_at.filter(|t| *t > now),
            created_at: endpoint.created_at,
            updated_at: endpoint.updated_at,
        }
    }

    /// The endpoint, with its secret if it was just made (shown this once).
    pub fn saved(saved: &Saved) -> EndpointView {
        EndpointView {
            secret: saved.new_secret.as_ref().map(|s| s.expose().to_owned()),
            ..EndpointView::of(&saved.endpoint)
        }
    }
}

/// One delivery attempt in the log.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct AttemptView {
    event_id: i64,
    #[serde(rename = "type")]
    kind: String,
    attempt: i64,
    url: String,
    attempted_at: DateTime<Utc>,
    duration_ms: i64,
    status_code: Option<i64>,
    invocation: String,
    invocation_status: Option<String>,
    sync_error: Option<String>,
    pending_webhooks: i64,
    response_body: Option<String>,
    error: Option<String>,
}

impl From<Attempt> for AttemptView {
    fn from(a: Attempt) -> Self {
        AttemptView {
            event_id: a.event_id,
            kind: a.kind,
            attempt: a.attempt,
            url: a.url,
            attempted_at: a.attempted_at,
            duration_ms: a.duration_ms,
            status_code: a.status_code,
            invocation: a.invocation,
            invocation_status: a.invocation_status,
            sync_error: a.sync_error,
            pending_webhooks: a.pending_webhooks,
            response_body: a.response_body,
            error: a.error,
        }
    }
}
