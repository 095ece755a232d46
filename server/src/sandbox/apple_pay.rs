//! The sandbox Apple Pay merchant-validation endpoint, mounted at `/sandbox/apple-pay`.
//!
//! `POST /paymentSession` with `{"merchantIdentifier", "domainName", "displayName"}` (and
//! `Authorization: Bearer <any non-empty key>`) answers a merchant session shaped exactly like
//! the example in seed 000: `epochTimestamp`, `expiresAt` (an hour later, both in
//! milliseconds), `merchantSessionIdentifier`, `nonce`, `merchantIdentifier`, `domainName`,
//! `displayName`, `signature`, `operationalAnalyticsIdentifier`, `retries`, `pspId`.
//!
//! As Apple does, the session names the merchant by the SHA-256 of its merchant identifier
//! (uppercase hex), not by the identifier itself. Faults use the provider name `apple-pay`.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::Sandbox;
use super::faults::Gate;
use super::request::has_api_key;

/// The fault-injection name of this provider.
pub const PROVIDER: &str = "apple-pay";

/// How long a merchant session is valid, as Apple's: one hour.
const SESSION_LIFETIME_MS: i64 = 60 * 60 * 1000;

/// The Apple Pay routes, to be nested at `/sandbox/apple-pay`.
pub fn router<S: Clone + Send + Sync + 'static>(sandbox: Sandbox) -> Router<S> {
    let faults = Gate::new(&sandbox.faults, PROVIDER);
    Router::new().route("/paymentSession", faults.guard(post(payment_session))).with_state(sandbox)
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SessionRequest {
    #[serde(default)]
    merchant_identifier: String,
    #[serde(default)]
    domain_name: String,
    #[serde(default)]
    display_name: String,
}

/// The session object, fields in the order of seed 000's example.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct MerchantSession {
    epoch_timestamp: i64,
    expires_at: i64,
    merchant_session_identifier: String,
    nonce: String,
    merchant_identifier: String,
    domain_name: String,
    display_name: String,
    signature: String,
    operational_analytics_identifier: String,
    retries: u32,
    psp_id: String,
}

/// Apple's error shape: `statusCode` as a string and a message.
fn refused(status: StatusCode, message: &str) -> Response {
    (status, Json(json!({ "statusCode": status.as_u16().to_string(), "statusMessage": message })))
        .into_response()
}

/// Apple Pay on the web is served only from a plain registered host name: no scheme, path or
/// port.
fn is_domain_name(domain: &str) -> bool {
    !domain.is_empty()
        && domain.len() <= 253
        && domain.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && label.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
                && !label.starts_with('-')
                && !label.ends_with('-')
        })
}

/// `POST /paymentSession`
async fn payment_session(
    State(sandbox): State<Sandbox>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if !has_api_key(&headers) {
        return refused(StatusCode::UNAUTHORIZED, "missing API key (Authorization: Bearer)");
    }
    let Ok(request) = serde_json::from_slice::<SessionRequest>(&body) else {
        return refused(StatusCode::BAD_REQUEST, "Payment Services Exception: invalid request");
    };
    let merchant_identifier = request.merchant_identifier.trim();
    let domain_name = request.domain_name.trim().to_owned();
    let display_name = request.display_name.trim();
    if merchant_identifier.is_empty() {
        return refused(StatusCode::BAD_REQUEST, "merchantIdentifier is required");
    }
    if !is_domain_name(&domain_name) {
        return refused(
            StatusCode::BAD_REQUEST,
            "domainName must be a registered host name, such as shop.example.com",
        );
    }
    if display_name.is_empty() || display_name.chars().count() > 64 {
        return refused(StatusCode::BAD_REQUEST, "displayName must be 1 to 64 characters");
    }

    let merchant_hash = settle::secret::hash(merchant_identifier).to_ascii_uppercase();
    let epoch_timestamp = chrono::Utc::now().timestamp_millis();
    let random = || uuid::Uuid::new_v4().simple().to_string().to_ascii_uppercase();
    let merchant_session_identifier = format!(
        "SSH{}_{}",
        random(),
        settle::secret::hash(&format!("{}{}", random(), random())).to_ascii_uppercase()
    );
    let nonce: String = uuid::Uuid::new_v4().simple().to_string().chars().take(8).collect();
    // Apple's signature is a PKCS#7 blob the browser passes back to Apple unread; a hash over
    // this sandbox's key and the session keeps the stand-in opaque and unique per session.
    let signature = STANDARD.encode(settle::secret::hash(&format!(
        "{}.{merchant_session_identifier}.{nonce}.{epoch_timestamp}",
        sandbox.signing_secret
    )));
    let session = MerchantSession {
        epoch_timestamp,
        expires_at: epoch_timestamp + SESSION_LIFETIME_MS,
        merchant_session_identifier,
        nonce,
        operational_analytics_identifier: format!("{display_name}:{merchant_hash}"),
        merchant_identifier: merchant_hash.clone(),
        domain_name,
        display_name: display_name.to_owned(),
        signature,
        retries: 0,
        psp_id: merchant_hash,
    };
    Json(session).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_host_names_are_domains() {
        assert!(is_domain_name("shop.example.com"));
        assert!(is_domain_name("localhost"));
        for bad in
            ["", "https://shop.example.com", "shop.example.com/pay", "a..b", "-a.com", "a.com:443"]
        {
            assert!(!is_domain_name(bad), "{bad}");
        }
    }
}
