//! The orders API's shapes: the order request as the document names its fields, the answers
//! (`{payment_method_id}`, the 202 `form`, `{amount}`, payment methods), and the Rails-style
//! error body `{"errors": {"<parameter>": ["<message>", …]}}`.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::{Map, Value};
use settle::FieldError;
use settle::checkout::ReturnTo;
use settle::checkout::booking::BookingPayment;
use settle::connector::HostedForm;
use settle::iban::Iban;
use settle::payment_method::{MethodKind, MethodNumber, MethodStatus, PaymentMethod};

use crate::api::body;

/// The placeholder a `return_url` carries, replaced by `ok` or `ko`.
pub const RESULT_PLACEHOLDER: &str = "__RESULT__";

/// The core's field names as this API's parameters.
const PARAMETERS: &[(&str, &str)] = &[
    ("customer_code", "person_id"),
    ("campaign", "campaign_code"),
    ("return_to", "return_url"),
    ("payment_method", "payment_method_id"),
];

/// A field error named as this API's parameter.
pub fn parameter(error: FieldError) -> FieldError {
    match PARAMETERS.iter().find(|(core, _)| *core == error.field) {
        Some((_, name)) => FieldError::new(*name, error.message),
        None => error,
    }
}

/// `422 {"errors": {"iban": ["…"], …}}`: each parameter with its messages, as a Rails model's
/// `errors` renders.
#[derive(Debug, Serialize)]
pub struct Errors {
    /// Messages per parameter.
    pub errors: BTreeMap<String, Vec<String>>,
}

impl Errors {
    /// The body for these field errors.
    pub fn of(fields: Vec<FieldError>) -> Errors {
        let mut errors: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for e in fields.into_iter().map(parameter) {
            errors.entry(e.field).or_default().push(e.message);
        }
        Errors { errors }
    }
}

/// An order request, read field by field (all errors at once).
#[derive(Debug)]
pub struct OrderRequest {
    /// `person_id`.
    pub person_id: String,
    /// `description`.
    pub description: String,
    /// `amount` in cents.
    pub amount: i64,
    /// `campaign_code`.
    pub campaign_code: String,
    /// How it is paid, from `payment_method_type` and the field that type needs.
    pub payment: BookingPayment,
}

impl OrderRequest {
    /// Reads the fields; the errors name the document's parameters.
    pub fn parse(fields: &Map<String, Value>) -> Result<OrderRequest, Vec<FieldError>> {
        let mut errors = Vec::new();
        let person_id = body::required(fields, "person_id", &mut errors);
        let description = body::required(fields, "description", &mut errors);
        let campaign_code = body::required(fields, "campaign_code", &mut errors);
        // Its sign is the core's pricing rule.
        let amount = integer(fields, "amount", &mut errors);
        let kind = body::required(fields, "payment_method_type", &mut errors);
        let payment = match kind.as_deref() {
            Some("existing_payment_method") => integer(fields, "payment_method_id", &mut errors)
                .map(|n| BookingPayment::SavedMethod(MethodNumber::new(n))),
            Some("direct_debit") => body::required(fields, "iban", &mut errors).and_then(|raw| {
                iban(&raw).map_err(|e| errors.push(e)).ok().map(BookingPayment::BankAccount)
            }),
            Some("credit_card_external") => body::required(fields, "return_url", &mut errors)
                .and_then(|url| {
                    return_url(url).map_err(|e| errors.push(e)).ok().map(BookingPayment::HostedPage)
                }),
            Some(_) => {
                errors.push(FieldError::new(
                    "payment_method_type",
                    "must be existing_payment_method, direct_debit or credit_card_external",
                ));
                None
            }
            None => None,
        };
        match (person_id, description, amount, campaign_code, payment) {
            (
                Some(person_id),
                Some(description),
                Some(amount),
                Some(campaign_code),
                Some(payment),
            ) if errors.is_empty() => {
                Ok(OrderRequest { person_id, description, amount, campaign_code, payment })
            }
            _ => Err(errors),
        }
    }
}

/// An integer parameter (a JSON number, or digits in a string or a form).
fn integer(fields: &Map<String, Value>, name: &str, errors: &mut Vec<FieldError>) -> Option<i64> {
    let parsed = match fields.get(name) {
        None | Some(Value::Null) => {
            errors.push(FieldError::new(name, "is required"));
            return None;
        }
        Some(Value::Number(n)) => n.as_i64(),
        Some(Value::String(s)) if s.trim().is_empty() => {
            errors.push(FieldError::new(name, "is required"));
            return None;
        }
        Some(Value::String(s)) => s.trim().parse::<i64>().ok(),
        Some(_) => None,
    };
    if parsed.is_none() {
        errors.push(FieldError::new(name, "must be an integer"));
    }
    parsed
}

/// The document asks for IBANs already normalised (letters and digits only); anything else
/// (spaces, dashes) is refused rather than guessed at, then the IBAN itself is checked.
fn iban(raw: &str) -> Result<Iban, FieldError> {
    if !raw.chars().all(|c| c.is_ascii_alphanumeric()) {
        return Err(FieldError::new("iban", "must be normalized: only letters and digits"));
    }
    Iban::parse(raw)
}

/// A `return_url` with its placeholder (the origin is checked by the core).
fn return_url(url: String) -> Result<ReturnTo, FieldError> {
    if !url.contains(RESULT_PLACEHOLDER) {
        return Err(FieldError::new(
            "return_url",
            format!("must contain {RESULT_PLACEHOLDER}, which is replaced by ok or ko"),
        ));
    }
    Ok(ReturnTo::ReplacePlaceholder { url, placeholder: RESULT_PLACEHOLDER.to_owned() })
}

/// `201 {"payment_method_id": 12}` (and the 202's first key).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct OrderCreated {
    /// The method used; `null` for a hosted page (the card is not saved).
    pub payment_method_id: Option<i64>,
    /// For `credit_card_external`: the form to post to reach the gateway's page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub form: Option<FormView>,
}

/// `{"action": "<url>", "fields": {"name": "value", …}}`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct FormView {
    /// Where the form posts.
    pub action: String,
    /// Hidden fields.
    pub fields: BTreeMap<String, String>,
}

impl From<&HostedForm> for FormView {
    fn from(form: &HostedForm) -> FormView {
        FormView { action: form.action.clone(), fields: form.fields.iter().cloned().collect() }
    }
}

/// `{"amount": 1000}`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Total {
    /// Cents of the processed orders.
    pub amount: i64,
}

/// A payment method as the document shows it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct MethodView {
    /// Its number.
    pub id: i64,
    /// How it is shown.
    pub name: String,
    /// `PaymentMethods::DirectDebit` or `PaymentMethods::CreditCard`.
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// `incomplete`, `active` or `inactive`.
    pub status: &'static str,
    /// Whether it was used successfully before.
    #[serde(rename = "verified?")]
    pub verified: bool,
}

impl MethodView {
    /// The method in the document's words; methods it has no type for are not shown.
    pub fn of(method: &PaymentMethod) -> Option<MethodView> {
        let kind = match method.kind {
            MethodKind::BankAccount => "PaymentMethods::DirectDebit",
            MethodKind::Card => "PaymentMethods::CreditCard",
            _ => return None,
        };
        let name = match (method.kind, &method.card_brand, &method.card_last4) {
            (MethodKind::Card, Some(brand), Some(last4)) => format!("{brand} •••• {last4}"),
            (MethodKind::BankAccount, _, _) => {
                method.bank_account_masked.clone().unwrap_or_else(|| method.label.clone())
            }
            _ => method.label.clone(),
        };
        Some(MethodView {
            id: method.number?.get(),
            name,
            kind,
            status: status(method.status),
            verified: method.verified,
        })
    }
}

/// The core's method status in the document's three words.
pub fn status(status: MethodStatus) -> &'static str {
    match status {
        MethodStatus::Incomplete => "incomplete",
        MethodStatus::Valid => "active",
        MethodStatus::Invalid | MethodStatus::Expired => "inactive",
    }
}

/// Which end of a span a date names.
#[derive(Clone, Copy, Debug)]
pub enum Bound {
    /// `from_date`: a bare date starts at its midnight (UTC).
    From,
    /// `until_date`: a bare date includes that whole day (until the next midnight, UTC).
    Until,
}

/// An ISO 8601 date or date-time ([`body::iso_moment`]) as the `bound` of a span.
pub fn iso_time(raw: &str, bound: Bound) -> Option<DateTime<Utc>> {
    match (body::iso_moment(raw)?, bound) {
        ((day, true), Bound::Until) => day.checked_add_signed(chrono::Duration::days(1)),
        ((time, _), _) => Some(time),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(json: Value) -> Map<String, Value> {
        match json {
            Value::Object(m) => m,
            _ => Map::new(),
        }
    }

    #[test]
    fn every_missing_parameter_is_named() {
        let errors = OrderRequest::parse(&Map::new()).unwrap_err();
        let names: Vec<_> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(
            names,
            ["person_id", "description", "campaign_code", "amount", "payment_method_type"]
        );
    }

    #[test]
    fn each_type_needs_its_own_field() {
        let base = |extra: Value| {
            let mut f = fields(serde_json::json!({
                "person_id": "P1", "description": "d", "amount": 1000, "campaign_code": "C"
            }));
            f.extend(fields(extra));
            OrderRequest::parse(&f)
        };
        let e = base(serde_json::json!({"payment_method_type": "direct_debit"})).unwrap_err();
        assert_eq!(e[0].field, "iban");
        let e = base(serde_json::json!({"payment_method_type": "direct_debit", "iban": "DE89 3704 0044 0532 0130 00"}))
            .unwrap_err();
        assert!(e[0].message.contains("normalized"), "{e:?}");
        let e = base(serde_json::json!({"payment_method_type": "credit_card_external", "return_url": "http://x.test/"}))
            .unwrap_err();
        assert_eq!(e[0].field, "return_url");
        let e = base(serde_json::json!({"payment_method_type": "existing_payment_method", "payment_method_id": "x"}))
            .unwrap_err();
        assert_eq!(e[0].field, "payment_method_id");
        let ok = base(serde_json::json!({"payment_method_type": "existing_payment_method", "payment_method_id": "7"}))
            .unwrap();
        assert!(matches!(ok.payment, BookingPayment::SavedMethod(n) if n.get() == 7));
    }

    #[test]
    fn dates_and_datetimes_are_read_as_utc() {
        let from = iso_time("2026-12-05", Bound::From).unwrap();
        assert_eq!(from.to_rfc3339(), "2026-12-05T00:00:00+00:00");
        let until = iso_time("2026-12-05", Bound::Until).unwrap();
        assert_eq!(until.to_rfc3339(), "2026-12-06T00:00:00+00:00");
        let t = iso_time("2026-12-05T10:00:00+02:00", Bound::From).unwrap();
        assert_eq!(t.to_rfc3339(), "2026-12-05T08:00:00+00:00");
        assert!(iso_time("2026-12-05T10:00:00", Bound::From).is_some());
        assert!(iso_time("05/12/2026", Bound::From).is_none());
        assert!(iso_time("2026-13-01", Bound::From).is_none());
    }

    #[test]
    fn errors_are_grouped_per_parameter() {
        let body = Errors::of(vec![
            FieldError::new("customer_code", "is not one of your customers"),
            FieldError::new("iban", "a"),
            FieldError::new("iban", "b"),
        ]);
        let json = serde_json::to_value(&body).unwrap();
        assert_eq!(json["errors"]["person_id"][0], "is not one of your customers");
        assert_eq!(json["errors"]["iban"], serde_json::json!(["a", "b"]));
    }
}
