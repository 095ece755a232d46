//! Seed 003's wire: the take-payment body read into the core's card and billing entries, and
//! the payment, policy and address objects (the document's fields, names and formats) built
//! from the core's [`QuoteView`].

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;
use serde_json::{Map, Value, json};
use settle::FieldError;
use settle::checkout::card::{self as rules, FieldNames};
use settle::checkout::quote::{PostalAddress, QuoteRef, QuoteView, quote_id_of};
use settle::checkout::{AddressEntry, Billing, CardEntry};
use settle::connector::CardDetails;
use settle::payment::PaymentState;
use settle::service::Service;
use sha2::{Digest, Sha256};

/// The vehicle fields of seed 003's policy object, in its order; missing ones are `null`.
const VEHICLE_FIELDS: [&str; 15] = [
    "vehicle_type",
    "reg_no",
    "abi_code",
    "year_of_manufacture",
    "cc",
    "number_of_doors",
    "number_of_seats",
    "make",
    "model",
    "gearbox_type_id",
    "gearbox_type_name",
    "body_type_id",
    "body_type_name",
    "fuel_type_id",
    "fuel_type_name",
];

/// The document's names for the core's card and billing fields.
const FIELDS: &[(&str, &str)] = &[
    (FieldNames::HOLDER, "card_details.card_holder"),
    (FieldNames::NUMBER, "card_details.card_number"),
    (FieldNames::EXPIRY, "card_details.expiry_date"),
    (FieldNames::CVV, "card_details.cv2"),
    (FieldNames::CARD_TYPE, "card_details.card_type"),
    (FieldNames::BILLING, "billing_address"),
];

/// The order errors are reported in: the document's order of the fields.
const FIELD_ORDER: &[&str] = &[
    "body",
    "card_details",
    "card_details.card_holder",
    "card_details.card_number",
    "card_details.expiry_date",
    "card_details.cv2",
    "card_details.card_type",
    "billing_use_policy_address",
    "billing_address",
    "billing_address.house",
    "billing_address.street",
    "billing_address.city",
    "billing_address.county",
    "billing_address.postcode",
];

/// A take-payment request, checked: the card and where to bill it.
#[derive(Clone, Debug)]
pub struct TakePayment {
    /// The card (its `Debug` shows only the last four digits).
    pub card: CardDetails,
    /// The billing choice.
    pub billing: Billing,
}

impl TakePayment {
    /// Reads seed 003's take-payment body with the core's rules. Every problem is reported under
    /// the client's own field name (`card_details.card_number`, `billing_address.postcode`).
    pub fn parse(body: &Value, today: NaiveDate) -> Result<TakePayment, Vec<FieldError>> {
        let Some(body) = body.as_object() else {
            return Err(vec![FieldError::new("body", "must be a JSON object")]);
        };
        let mut wire = Vec::new();
        let card = match body.get("card_details") {
            None | Some(Value::Null) => {
                wire.push(FieldError::new("card_details", "is required"));
                None
            }
            Some(Value::Object(card)) => Some(CardEntry {
                holder: text(card, "card_holder", "card_details.card_holder", &mut wire),
                number: text(card, "card_number", "card_details.card_number", &mut wire),
                expiry: text(card, "expiry_date", "card_details.expiry_date", &mut wire),
                cvv: text(card, "cv2", "card_details.cv2", &mut wire),
                card_type: text(card, "card_type", "card_details.card_type", &mut wire),
            }),
            Some(_) => {
                wire.push(FieldError::new("card_details", "must be an object"));
                None
            }
        };
        let billing = billing(body, &mut wire);
        let mut errors = Vec::new();
        let checked = card.and_then(|c| c.check(today).map_err(|e| errors.extend(e)).ok());
        let billing = match billing {
            Some(Ok(billing)) => Some(billing),
            Some(Err(entry)) => match entry.check() {
                Ok(address) => Some(Billing::Address(address)),
                Err(e) => {
                    errors.extend(e);
                    None
                }
            },
            None => None,
        };
        // A field the wire already refused (wrong type) isn't reported again as missing.
        let mut errors: Vec<FieldError> = rules::rename(errors, FIELDS)
            .into_iter()
            .filter(|e| !wire.iter().any(|w| w.field == e.field))
            .collect();
        errors.extend(wire);
        errors
            .sort_by_key(|e| FIELD_ORDER.iter().position(|f| *f == e.field).unwrap_or(usize::MAX));
        match (checked, billing) {
            (Some(card), Some(billing)) if errors.is_empty() => Ok(TakePayment { card, billing }),
            _ => Err(errors),
        }
    }
}

/// A text field; absent, null or blank is `None`; anything but a string is refused.
fn text(
    object: &Map<String, Value>,
    key: &str,
    field: &str,
    errors: &mut Vec<FieldError>,
) -> Option<String> {
    match object.get(key) {
        None | Some(Value::Null) => None,
        Some(Value::String(text)) => Some(text.clone()),
        Some(_) => {
            errors.push(FieldError::new(field, "must be a string"));
            None
        }
    }
}

/// The billing choice: `Ok` for a decided one, `Err` for an address still to check.
fn billing(
    body: &Map<String, Value>,
    errors: &mut Vec<FieldError>,
) -> Option<Result<Billing, AddressEntry>> {
    let address = match body.get("billing_address") {
        None | Some(Value::Null) => None,
        Some(Value::Object(address)) => Some(address),
        Some(_) => {
            errors.push(FieldError::new("billing_address", "must be an object"));
            return None;
        }
    };
    let use_policy = match body.get("billing_use_policy_address") {
        // Absent: bill the address sent, else the policy address.
        None | Some(Value::Null) => address.is_none(),
        Some(Value::Bool(flag)) => *flag,
        Some(_) => {
            errors.push(FieldError::new("billing_use_policy_address", "must be true or false"));
            return None;
        }
    };
    if use_policy {
        return Some(Ok(Billing::PolicyAddress));
    }
    let Some(address) = address else {
        errors.push(FieldError::new(
            "billing_address",
            "is required when billing_use_policy_address is false",
        ));
        return None;
    };
    let before = errors.len();
    let mut line = |key: &str| text(address, key, &format!("billing_address.{key}"), errors);
    let entry = AddressEntry {
        house: line("house"),
        street: line("street"),
        city: line("city"),
        county: line("county"),
        postcode: line("postcode"),
    };
    (errors.len() == before).then_some(Err(entry))
}

/// Seed 003's payment object.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct PaymentObject {
    /// The payment uuid.
    pub uuid: String,
    /// Where to poll it.
    pub url: String,
    /// When it was prepared.
    pub created_at: String,
    /// When it or its latest attempt last changed.
    pub updated_at: String,
    /// The quote's URL.
    pub quote: String,
    /// The policy, once POLICY_CONVERTED.
    pub policy: Option<PolicyObject>,
    /// The policy address.
    pub policy_address: Option<AddressObject>,
    /// The billing address (the policy address when `billing_use_policy_address`).
    pub billing_address: Option<AddressObject>,
    /// Whether the policy address is billed.
    pub billing_use_policy_address: bool,
    /// The state's name (`PAYMENT_SUCCESS`).
    pub payment_status_state: &'static str,
    /// The state's number (6).
    pub payment_status: i16,
    /// A sentence for the customer.
    pub client_feedback: &'static str,
    /// The 3-D Secure challenge request, while PAYMENT_3DAUTH.
    pub creq: Option<String>,
    /// The issuer's challenge page, while PAYMENT_3DAUTH.
    pub acsurl: Option<String>,
    /// The session data to post with `creq`, while PAYMENT_3DAUTH.
    pub three_ds_session_data: Option<String>,
}

/// Seed 003's policy object.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct PolicyObject {
    /// The policy's uuid.
    pub uuid: String,
    /// Its URL.
    pub url: String,
    /// When the payment converted it.
    pub created_at: String,
    /// When it last changed.
    pub updated_at: String,
    /// The insured vehicle, if the quote has one.
    pub vehicle: Option<Value>,
    /// The policy number.
    pub policy_number: String,
    /// The insurer.
    pub insurer_name: Option<String>,
    /// The scheme's code.
    pub scheme_code: Option<String>,
    /// The scheme's name.
    pub scheme_name: Option<String>,
    /// When cover starts.
    pub policy_start_date: Option<String>,
    /// When cover ends.
    pub policy_end_date: Option<String>,
    /// Whole percent of the cover period elapsed (0–100).
    pub policy_progress: i64,
}

/// Seed 003's address object.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct AddressObject {
    /// Its URL.
    pub url: String,
    /// Its uuid.
    pub uuid: String,
    /// When it was stored.
    pub created_at: String,
    /// When it last changed.
    pub updated_at: String,
    /// House number or name.
    pub house: Option<String>,
    /// Street.
    pub street: Option<String>,
    /// City.
    pub city: Option<String>,
    /// County.
    pub county: Option<String>,
    /// Postcode.
    pub postcode: Option<String>,
}

/// The payment object of a prepared quote; `base_url` is Settle's public URL, for its links.
pub fn payment_object(view: &QuoteView, base_url: &str) -> PaymentObject {
    let QuoteView { payment, service, latest, policy_address, billing_address } = view;
    // Before the first take-payment nothing was sent anywhere: CREATED.
    let state = latest.as_ref().map_or(PaymentState::Created, |p| p.state);
    let challenge = latest
        .as_ref()
        .and_then(|p| p.three_ds.as_ref())
        .filter(|_| state == PaymentState::Payment3dAuth);
    let updated_at =
        latest.as_ref().map_or(payment.updated_at, |p| p.updated_at.max(payment.updated_at));
    let policy = match latest {
        Some(converted) if converted.state == PaymentState::PolicyConverted => {
            Some(policy_object(service, converted.updated_at, base_url, Utc::now()))
        }
        _ => None,
    };
    let uuid = payment.id.to_string();
    PaymentObject {
        url: format!("{}/api/v1/payments/{uuid}/", base(base_url)),
        uuid,
        created_at: timestamp(payment.created_at),
        updated_at: timestamp(updated_at),
        quote: format!("{}/api/v1/quote-requests/quotes/{}/", base(base_url), quote_id_of(service)),
        policy,
        policy_address: policy_address.as_ref().map(|a| address_object(a, base_url)),
        billing_address: billing_address.as_ref().map(|a| address_object(a, base_url)),
        billing_use_policy_address: payment.billing_use_policy_address,
        payment_status_state: state.name(),
        payment_status: state.code(),
        client_feedback: state.sentence(),
        creq: challenge.map(|c| c.creq.clone()),
        acsurl: challenge.map(|c| c.acs_url.clone()),
        three_ds_session_data: challenge.map(|c| c.session_data.clone()),
    }
}

/// Seed 003's address object.
pub fn address_object(address: &PostalAddress, base_url: &str) -> AddressObject {
    let uuid = address.id.to_string();
    AddressObject {
        url: format!("{}/api/v1/user/address/{uuid}/", base(base_url)),
        uuid,
        created_at: timestamp(address.created_at),
        updated_at: timestamp(address.updated_at),
        house: address.lines.house.clone(),
        street: address.lines.street.clone(),
        city: address.lines.city.clone(),
        county: address.lines.county.clone(),
        postcode: address.lines.postcode.clone(),
    }
}

/// The policy object of a converted quote; `converted_at` is when its payment converted it.
fn policy_object(
    service: &Service,
    converted_at: DateTime<Utc>,
    base_url: &str,
    now: DateTime<Utc>,
) -> PolicyObject {
    let quote = service.details.quote.clone().unwrap_or_default();
    let uuid = service.id.to_string();
    PolicyObject {
        url: format!("{}/api/v1/policies/{uuid}/", base(base_url)),
        uuid,
        created_at: timestamp(converted_at),
        updated_at: timestamp(service.updated_at.max(converted_at)),
        vehicle: vehicle_object(service, base_url),
        policy_number: service.reference.clone(),
        insurer_name: quote.insurer_name,
        scheme_code: quote.scheme_code,
        scheme_name: quote.scheme_name,
        policy_start_date: service.period_start.map(timestamp),
        policy_end_date: service.period_end.map(timestamp),
        policy_progress: progress(service.period_start, service.period_end, now),
    }
}

/// The vehicle of a quote's details with seed 003's fields (missing ones `null`). Its uuid is the
/// one in the details, else derived from the policy's id, so it is the same on every read.
fn vehicle_object(service: &Service, base_url: &str) -> Option<Value> {
    let details = service.details.vehicle.as_ref()?;
    let uuid = details
        .get("uuid")
        .and_then(Value::as_str)
        .map(str::to_owned)
        .unwrap_or_else(|| derived_uuid("vehicle", service.id.as_str()));
    let mut vehicle = Map::new();
    vehicle.insert("url".into(), json!(format!("{}/api/v1/user/vehicles/{uuid}/", base(base_url))));
    vehicle.insert("uuid".into(), json!(uuid));
    vehicle.insert("created_at".into(), json!(timestamp(service.created_at)));
    vehicle.insert("updated_at".into(), json!(timestamp(service.created_at)));
    for field in VEHICLE_FIELDS {
        vehicle.insert(field.into(), details.get(field).cloned().unwrap_or(Value::Null));
    }
    for (key, value) in details {
        vehicle.entry(key.clone()).or_insert_with(|| value.clone());
    }
    Some(Value::Object(vehicle))
}

/// A stable uuid for something stored without one (a quote's vehicle): SHA-256 of its kind and
/// owner, as a version 8 (custom) uuid.
fn derived_uuid(kind: &str, owner: &str) -> String {
    let digest = Sha256::digest(format!("settle:{kind}:{owner}").as_bytes());
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    uuid::Builder::from_custom_bytes(bytes).into_uuid().to_string()
}

/// Whole percent of the cover period elapsed at `now`, 0–100.
fn progress(start: Option<DateTime<Utc>>, end: Option<DateTime<Utc>>, now: DateTime<Utc>) -> i64 {
    match (start, end) {
        (Some(start), Some(end)) if end > start => {
            let total = (end - start).num_seconds().max(1);
            let elapsed = (now - start).num_seconds().clamp(0, total);
            elapsed * 100 / total
        }
        _ => 0,
    }
}

/// Seed 003's time format (Django REST framework's): RFC 3339 in UTC with `Z`, microseconds
/// when there are any (`2025-02-04T13:04:48.374818Z`, `2025-02-08T12:00:00Z`).
pub fn timestamp(t: DateTime<Utc>) -> String {
    let micros = t.timestamp_subsec_micros().min(999_999);
    if micros == 0 {
        t.format("%Y-%m-%dT%H:%M:%SZ").to_string()
    } else {
        format!("{}.{micros:06}Z", t.format("%Y-%m-%dT%H:%M:%S"))
    }
}

/// A quote as the client names it: its id, or its URL as the payment object shows it
/// (`…/api/v1/quote-requests/quotes/{id}/`).
pub fn quote_ref(id_or_url: &str) -> QuoteRef {
    let trimmed = id_or_url.trim().trim_end_matches('/');
    let id = trimmed.rsplit('/').next().unwrap_or(trimmed);
    QuoteRef::Quote(id.to_owned())
}

fn base(base_url: &str) -> &str {
    base_url.trim_end_matches('/')
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, 21).unwrap()
    }

    fn body(card_number: &str, expiry: &str) -> Value {
        json!({
            "card_details": {
                "card_holder": "J SMITH",
                "card_number": card_number,
                "expiry_date": expiry,
                "cv2": "123",
                "card_type": "VISA"
            },
            "billing_use_policy_address": true
        })
    }

    fn fields(result: Result<TakePayment, Vec<FieldError>>) -> Vec<String> {
        match result {
            Err(errors) => errors.into_iter().map(|e| e.field).collect(),
            other => panic!("expected field errors, got {other:?}"),
        }
    }

    #[test]
    fn seed_003_test_cards_are_accepted_with_their_card_types() {
        for (number, card_type) in [
            ("4929 0000 0000 6", "VISA"),
            ("4462 0000 0000 0003", "VISA DEBIT"),
            ("5186 1506 6000 0009", "MASTERCARD"),
            ("5185 6900 6000 0001", "MASTERCARD DEBIT"),
        ] {
            let mut request = body(number, "1028");
            request["card_details"]["card_type"] = json!(card_type);
            let parsed = TakePayment::parse(&request, today()).unwrap();
            assert_eq!(parsed.card.number.expose_digits(), number.replace(' ', ""));
            assert_eq!(parsed.billing, Billing::PolicyAddress);
        }
    }

    #[test]
    fn the_documents_own_examples_are_refused_field_by_field() {
        // The first example's number fails the Luhn check.
        assert_eq!(
            fields(TakePayment::parse(&body("1234567890121234", "1028"), today())),
            ["card_details.card_number"]
        );
        // The second: the same number, a card that expired in October 2024.
        let mut second = body("1234567890121234", "1024");
        second["card_details"]["cv2"] = json!("588");
        assert_eq!(
            fields(TakePayment::parse(&second, today())),
            ["card_details.card_number", "card_details.expiry_date"]
        );
    }

    #[test]
    fn card_type_must_match_the_number() {
        let mut request = body("5186150660000009", "1028");
        request["card_details"]["card_type"] = json!("VISA");
        assert_eq!(fields(TakePayment::parse(&request, today())), ["card_details.card_type"]);
        request["card_details"]["card_type"] = json!("DINERS");
        assert_eq!(fields(TakePayment::parse(&request, today())), ["card_details.card_type"]);
        request["card_details"].as_object_mut().unwrap().remove("card_type");
        assert!(TakePayment::parse(&request, today()).is_ok(), "card_type may be left out");
    }

    #[test]
    fn missing_and_mistyped_fields_are_named() {
        assert_eq!(fields(TakePayment::parse(&json!({}), today())), ["card_details"]);
        assert_eq!(fields(TakePayment::parse(&json!([1]), today())), ["body"]);
        let request = json!({
            "card_details": { "card_number": 4462000000000003_u64, "expiry_date": "13/28", "cv2": "12" },
            "billing_use_policy_address": "yes"
        });
        assert_eq!(
            fields(TakePayment::parse(&request, today())),
            [
                "card_details.card_holder",
                "card_details.card_number",
                "card_details.expiry_date",
                "card_details.cv2",
                "billing_use_policy_address"
            ]
        );
        let mut amex_cvv = body("4462000000000003", "1028");
        amex_cvv["card_details"]["cv2"] = json!("1234");
        assert_eq!(fields(TakePayment::parse(&amex_cvv, today())), ["card_details.cv2"]);
    }

    #[test]
    fn billing_address_is_required_unless_the_policy_address_is_used() {
        let mut request = body("4462000000000003", "1028");
        request["billing_use_policy_address"] = json!(false);
        assert_eq!(fields(TakePayment::parse(&request, today())), ["billing_address"]);
        request["billing_address"] = json!({ "house": "23", "street": "North Lake str.", "city": null, "county": "Norfolk", "postcode": "PE301KM" });
        let parsed = TakePayment::parse(&request, today()).unwrap();
        assert_eq!(
            parsed.billing,
            Billing::Address(settle::address::Address {
                house: Some("23".into()),
                street: Some("North Lake str.".into()),
                city: None,
                county: Some("Norfolk".into()),
                postcode: Some("PE301KM".into()),
            })
        );
        request["billing_address"] = json!({ "city": 12, "postcode": "" });
        assert_eq!(fields(TakePayment::parse(&request, today())), ["billing_address.city"]);
        request["billing_address"] = json!({ "city": "King's Lynn" });
        assert_eq!(
            fields(TakePayment::parse(&request, today())),
            ["billing_address.street", "billing_address.postcode"]
        );
        // Left out, the flag follows whether an address was sent.
        request.as_object_mut().unwrap().remove("billing_use_policy_address");
        request["billing_address"] = json!({ "street": "North Lake str.", "postcode": "PE301KM" });
        assert!(matches!(
            TakePayment::parse(&request, today()).unwrap().billing,
            Billing::Address(_)
        ));
        request.as_object_mut().unwrap().remove("billing_address");
        assert_eq!(TakePayment::parse(&request, today()).unwrap().billing, Billing::PolicyAddress);
    }

    #[test]
    fn cards_expire_after_their_month() {
        assert!(TakePayment::parse(&body("4462000000000003", "1126"), today()).is_ok());
        assert_eq!(
            fields(TakePayment::parse(&body("4462000000000003", "1026"), today())),
            ["card_details.expiry_date"]
        );
    }

    #[test]
    fn parsed_requests_never_show_the_card_number() {
        let parsed = TakePayment::parse(&body("4462000000000003", "1028"), today()).unwrap();
        let shown = format!("{parsed:?}");
        assert!(!shown.contains("4462000000000003") && !shown.contains("123"), "{shown}");
    }

    #[test]
    fn timestamps_follow_the_document() {
        let t = Utc.with_ymd_and_hms(2025, 2, 4, 13, 4, 48).unwrap()
            + chrono::Duration::nanoseconds(374_818_123);
        assert_eq!(timestamp(t), "2025-02-04T13:04:48.374818Z");
        let whole = Utc.with_ymd_and_hms(2025, 2, 8, 12, 0, 0).unwrap();
        assert_eq!(timestamp(whole), "2025-02-08T12:00:00Z");
    }

    #[test]
    fn progress_is_the_elapsed_share_of_cover() {
        let start = Utc.with_ymd_and_hms(2025, 2, 4, 0, 0, 0).unwrap();
        let end = start + chrono::Duration::days(4);
        assert_eq!(progress(Some(start), Some(end), start), 0);
        assert_eq!(progress(Some(start), Some(end), start + chrono::Duration::days(1)), 25);
        assert_eq!(progress(Some(start), Some(end), end + chrono::Duration::days(9)), 100);
        assert_eq!(progress(Some(start), Some(end), start - chrono::Duration::days(1)), 0);
        assert_eq!(progress(None, Some(end), start), 0);
    }

    #[test]
    fn quote_refs_take_ids_or_urls_and_derived_uuids_are_stable() {
        let id = "0e02575f-f9e1-4061-8408-f960f2a91173";
        assert_eq!(quote_ref(id), QuoteRef::Quote(id.into()));
        assert_eq!(
            quote_ref(&format!("https://x.test/api/v1/quote-requests/quotes/{id}/")),
            QuoteRef::Quote(id.into())
        );
        let a = derived_uuid("vehicle", "p1");
        assert_eq!(a, derived_uuid("vehicle", "p1"));
        assert_ne!(a, derived_uuid("vehicle", "p2"));
        assert!(uuid::Uuid::parse_str(&a).is_ok());
    }
}
