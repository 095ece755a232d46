//! Seed 001's wire: the payment object a merchant's invoice system posts, read field by field
//! under the document's names (`amount`, `type`, `customerCode`, …), the answer
//! `{invoiceId, merchantReference}`, and the document's JSON error (`{message, field}`).

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use rust_decimal::Decimal;
use serde::Serialize;
use serde_json::{Map, Value, json};
use settle::FieldError;
use url::Url;

use crate::api::body;
use crate::error::ApiError;

/// The longest `redirectionUrl` the document allows.
pub const MAX_REDIRECTION_URL: usize = 900;

/// The longest text Settle keeps for the other fields (references, codes, names).
const MAX_TEXT: usize = 200;

/// The document's fields in its order: errors are reported in this order.
const FIELD_ORDER: &[&str] = &[
    "body",
    "amount",
    "type",
    "customerCode",
    "merchantReference",
    "redirectionUrl",
    "itemName",
    "beneficiaryCode",
    "additionalFields",
];

/// A payment object as posted, checked for shape (the core checks the rest: the product, the
/// customer, the amount's currency, the return origin).
#[derive(Clone, Debug)]
pub struct PaymentObject {
    /// `amount`, exactly as sent.
    pub amount: Decimal,
    /// `type`: the product's code.
    pub product_code: String,
    /// `customerCode`.
    pub customer_code: String,
    /// `merchantReference`.
    pub merchant_reference: String,
    /// `redirectionUrl`.
    pub redirection_url: Url,
    /// `itemName`.
    pub item_name: String,
    /// `beneficiaryCode`.
    pub beneficiary_code: Option<String>,
    /// `additionalFields`, as sent (`{code, value}` each).
    pub additional_fields: Vec<Value>,
}

impl PaymentObject {
    /// Reads the document's payment object; every problem is named by the document's field.
    pub fn parse(body: &[u8]) -> Result<PaymentObject, Vec<FieldError>> {
        let fields = match serde_json::from_slice::<Value>(body) {
            Ok(Value::Object(fields)) => fields,
            Ok(_) => return Err(vec![FieldError::new("body", "must be a JSON object")]),
            Err(_) => return Err(vec![FieldError::new("body", "is not valid JSON")]),
        };
        let mut errors = Vec::new();
        let amount = amount(&fields, &mut errors);
        let product_code = bounded(&fields, "type", &mut errors);
        let customer_code = bounded(&fields, "customerCode", &mut errors);
        let merchant_reference = bounded(&fields, "merchantReference", &mut errors);
        let redirection_url = redirection_url(&fields, &mut errors);
        let item_name = bounded(&fields, "itemName", &mut errors);
        let beneficiary_code = body::text(&fields, "beneficiaryCode", &mut errors);
        if beneficiary_code.as_ref().is_some_and(|c| c.chars().count() > MAX_TEXT) {
            errors.push(too_long("beneficiaryCode", MAX_TEXT));
        }
        let additional_fields = additional_fields(&fields, &mut errors);
        match (amount, product_code, customer_code, merchant_reference, redirection_url, item_name)
        {
            (Some(amount), Some(p), Some(c), Some(m), Some(r), Some(i)) if errors.is_empty() => {
                Ok(PaymentObject {
                    amount,
                    product_code: p,
                    customer_code: c,
                    merchant_reference: m,
                    redirection_url: r,
                    item_name: i,
                    beneficiary_code,
                    additional_fields,
                })
            }
            _ => {
                errors.sort_by_key(|e| {
                    FIELD_ORDER.iter().position(|f| e.field.starts_with(f)).unwrap_or(usize::MAX)
                });
                Err(errors)
            }
        }
    }

    /// What the purchase keeps of the object besides its amount and line: the document's
    /// extras, under its own names, for the merchant's webhooks.
    pub fn details(&self) -> Value {
        json!({
            "itemName": self.item_name,
            "beneficiaryCode": self.beneficiary_code,
            "additionalFields": self.additional_fields,
        })
    }
}

fn amount(fields: &Map<String, Value>, errors: &mut Vec<FieldError>) -> Option<Decimal> {
    let parsed = match fields.get("amount") {
        None | Some(Value::Null) => Err("is required"),
        // With serde_json's `arbitrary_precision`, a number keeps the text it was sent as.
        Some(Value::Number(n)) => Decimal::from_str_exact(&n.to_string())
            .or_else(|_| Decimal::from_scientific(&n.to_string()))
            .map_err(|_| "must be a decimal number such as 5100.00"),
        Some(Value::String(s)) => Decimal::from_str_exact(s.trim())
            .map_err(|_| "must be a decimal number such as 5100.00"),
        Some(_) => Err("must be a number"),
    };
    match parsed {
        Ok(amount) if amount > Decimal::ZERO => Some(amount),
        Ok(_) => {
            errors.push(FieldError::new("amount", "must be greater than 0"));
            None
        }
        Err(message) => {
            errors.push(FieldError::new("amount", message));
            None
        }
    }
}

fn bounded(
    fields: &Map<String, Value>,
    name: &str,
    errors: &mut Vec<FieldError>,
) -> Option<String> {
    let value = body::required(fields, name, errors)?;
    if value.chars().count() > MAX_TEXT {
        errors.push(too_long(name, MAX_TEXT));
        return None;
    }
    Some(value)
}

fn too_long(name: &str, max: usize) -> FieldError {
    FieldError::new(name, format!("must not exceed {max} characters"))
}

fn redirection_url(fields: &Map<String, Value>, errors: &mut Vec<FieldError>) -> Option<Url> {
    let raw = body::required(fields, "redirectionUrl", errors)?;
    if raw.chars().count() > MAX_REDIRECTION_URL {
        errors.push(too_long("redirectionUrl", MAX_REDIRECTION_URL));
        return None;
    }
    match Url::parse(&raw) {
        Ok(url) if matches!(url.scheme(), "http" | "https") && url.host_str().is_some() => {
            Some(url)
        }
        _ => {
            errors.push(FieldError::new("redirectionUrl", "must be an absolute http(s) URL"));
            None
        }
    }
}

fn additional_fields(fields: &Map<String, Value>, errors: &mut Vec<FieldError>) -> Vec<Value> {
    let list = match fields.get("additionalFields") {
        None | Some(Value::Null) => return Vec::new(),
        Some(Value::Array(list)) => list,
        Some(_) => {
            errors.push(FieldError::new("additionalFields", "must be a list of {code, value}"));
            return Vec::new();
        }
    };
    let mut kept = Vec::with_capacity(list.len());
    for (i, item) in list.iter().enumerate() {
        let Some(item) = item.as_object() else {
            errors.push(FieldError::new(format!("additionalFields[{i}]"), "must be an object"));
            continue;
        };
        let mut text = |name: &str| {
            let value = body::text(item, name, errors).map(|v| v.chars().take(MAX_TEXT).collect());
            if let Some(e) = errors.last_mut()
                && e.field == name
            {
                e.field = format!("additionalFields[{i}].{name}");
            }
            value
        };
        let (code, value): (Option<String>, Option<String>) = (text("code"), text("value"));
        kept.push(json!({ "code": code, "value": value }));
    }
    kept
}

/// The answer to a created (or repeated) payment.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Created {
    /// The invoice's public id (`XYZ2024-ade08`).
    pub invoice_id: String,
    /// The merchant's reference, as sent.
    pub merchant_reference: String,
}

/// An error of this API, in the document's JSON: `{"status", "message", "field"}` with `errors`
/// listing every invalid field (400), or naming what was not found (404).
#[derive(Debug)]
pub struct InvoiceApiError(pub settle::Error);

impl From<settle::Error> for InvoiceApiError {
    fn from(e: settle::Error) -> InvoiceApiError {
        InvoiceApiError(e)
    }
}

impl From<Vec<FieldError>> for InvoiceApiError {
    fn from(errors: Vec<FieldError>) -> InvoiceApiError {
        InvoiceApiError(settle::Error::Validation(errors))
    }
}

/// The core's refusal with its fields named as the document names them (`lines[0].amount` is
/// `amount`, `merchant_reference` is `merchantReference`).
pub fn seed_names(e: settle::Error) -> settle::Error {
    let seed = |field: &str| -> String {
        match field {
            f if f.starts_with("lines[0].amount") || f == "amount" => "amount".into(),
            f if f.starts_with("lines[0].description") => "itemName".into(),
            f if f.starts_with("lines") => "amount".into(),
            "merchant_reference" => "merchantReference".into(),
            "customer_code" => "customerCode".into(),
            "product_code" | "service" => "type".into(),
            "details" => "additionalFields".into(),
            other => other.into(),
        }
    };
    match e {
        settle::Error::Validation(errors) => settle::Error::Validation(
            errors.into_iter().map(|e| FieldError::new(seed(&e.field), e.message)).collect(),
        ),
        other => other,
    }
}

/// The document's field for what the core could not find.
fn field_of_missing(what: &str) -> Option<&'static str> {
    match what {
        "product" | "type" => Some("type"),
        "customer" | "customerCode" => Some("customerCode"),
        _ => None,
    }
}

impl IntoResponse for InvoiceApiError {
    fn into_response(self) -> Response {
        match self.0 {
            settle::Error::Validation(errors) => {
                let first = errors
                    .first()
                    .cloned()
                    .unwrap_or_else(|| FieldError::new("body", "is not valid"));
                let body = json!({
                    "status": 400,
                    "message": format!("{} {}", first.field, first.message),
                    "field": first.field,
                    "errors": errors,
                });
                (StatusCode::BAD_REQUEST, Json(body)).into_response()
            }
            settle::Error::NotFound(what) => {
                let field = field_of_missing(what);
                let message = match field {
                    Some("type") => "No payment type (product) with this code.".to_owned(),
                    Some("customerCode") => "No customer with this code.".to_owned(),
                    _ => format!("No such {what}."),
                };
                let body = json!({ "status": 404, "message": message, "field": field });
                (StatusCode::NOT_FOUND, Json(body)).into_response()
            }
            settle::Error::Conflict(why) => {
                let body = json!({ "status": 409, "message": why, "field": "merchantReference" });
                (StatusCode::CONFLICT, Json(body)).into_response()
            }
            other => ApiError::from(other).into_response(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Value {
        json!({
            "amount": 5100.00, "type": "XYZ", "customerCode": "ABC123",
            "merchantReference": "REF-1234", "redirectionUrl": "https://merchant-url.com/",
            "itemName": "Item name", "beneficiaryCode": "20",
            "additionalFields": [{"code": "documentNo", "value": "TST1201901260"}]
        })
    }

    fn parse(v: &Value) -> Result<PaymentObject, Vec<FieldError>> {
        PaymentObject::parse(v.to_string().as_bytes())
    }

    #[test]
    fn the_documents_example_reads_exactly() {
        // The document's text (a Rust `5100.00` literal would be an f64, written `5100.0`).
        let mut body = sample();
        body["amount"] = serde_json::from_str("5100.00").unwrap();
        let object = parse(&body).unwrap();
        assert_eq!(object.amount.to_string(), "5100.00");
        assert_eq!(object.product_code, "XYZ");
        assert_eq!(object.details()["additionalFields"][0]["code"], "documentNo");
        let mut body = sample();
        body["amount"] = serde_json::from_str("378.90").unwrap();
        assert_eq!(parse(&body).unwrap().amount.to_string(), "378.90", "exact, not an f64");
    }

    #[test]
    fn each_invalid_field_is_named() {
        for (field, value) in [
            ("amount", json!(null)),
            ("amount", json!(0)),
            ("amount", json!(-5)),
            ("amount", json!("lots")),
            ("type", json!("")),
            ("customerCode", json!(7)),
            ("merchantReference", json!(null)),
            ("redirectionUrl", json!("/relative")),
            ("redirectionUrl", json!(format!("https://merchant-url.com/{}", "a".repeat(900)))),
            ("itemName", json!(["x"])),
            ("beneficiaryCode", json!(20)),
            ("additionalFields", json!("x")),
        ] {
            let mut body = sample();
            body[field] = value.clone();
            let errors = parse(&body).unwrap_err();
            assert_eq!(errors[0].field, field, "{field} = {value}: {errors:?}");
        }
        let mut body = sample();
        body["additionalFields"] = json!([{"code": 1}]);
        assert_eq!(parse(&body).unwrap_err()[0].field, "additionalFields[0].code");
    }
}
