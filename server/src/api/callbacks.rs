//! Where gateways reach Settle: server-to-server notifications, the customer's return from a
//! hosted page, and the end of a 3-D Secure challenge.

use std::sync::LazyLock;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Form, Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use base64::Engine;
use serde::Deserialize;
use serde_json::json;
use settle::payment::{ChallengeOutcome, Payment, PaymentState};
use sha2::{Digest, Sha256};

use crate::error::ApiError;
use crate::state::AppState;

/// `POST /gateway/notify/{gateway}`: a signed notification. 200 once recorded (even a duplicate,
/// so the gateway stops resending), 401 if the signature doesn't verify.
pub async fn notify(
    State(state): State<AppState>,
    Path(gateway): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let signature = headers.get(settle::connector::signature::HEADER).and_then(|v| v.to_str().ok());
    let outcome = state.payments.handle_notification(&gateway, signature, &body).await?;
    Ok(Json(json!({ "received": true, "outcome": format!("{outcome:?}") })).into_response())
}

/// Where the gateway sends the customer back (`?token=<payment reference>`, GET or POST).
#[derive(Debug, Default, Deserialize)]
pub struct ProcessQuery {
    token: Option<String>,
}

/// `/api/v3/payment/process/`: the customer is back from the gateway's page (seed 000). Settle
/// asks the gateway where the payment stands (the redirect itself proves nothing: anyone can
/// type this URL), records the outcome, activates the policy on success, and sends the
/// customer on to the client's URL with the outcome, so a failed payment can be retried.
pub async fn process(
    State(state): State<AppState>,
    Query(query): Query<ProcessQuery>,
    form: Result<Form<ProcessQuery>, axum::extract::rejection::FormRejection>,
) -> Result<Response, ApiError> {
    // Gateways that POST the customer back may carry the token in the body instead.
    let posted = form.ok().and_then(|Form(f)| f.token);
    let token = query
        .token
        .or(posted)
        .filter(|t| !t.is_empty())
        .ok_or_else(|| settle::Error::invalid("token", "is required"))?;
    let payment = Payment::find_by_reference(&state.db, &token)
        .await?
        .ok_or(settle::Error::NotFound("payment"))?;
    let mut payment = state.payments.refresh(&payment).await?;
    // A notification racing this return may be mid-way through fulfilment; give it a moment
    // so the client learns the final outcome rather than CONVERTING_POLICY.
    for _ in 0..20 {
        if !matches!(payment.state, PaymentState::PaymentSuccess | PaymentState::ConvertingPolicy) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        payment = Payment::find(&state.db, &payment.id)
            .await?
            .ok_or(settle::Error::NotFound("payment"))?;
    }
    Ok(Redirect::to(&continue_url(&payment)).into_response())
}

/// Where a customer goes after a payment step: the client's return URL (its origin was checked
/// against the merchant's when the payment started) with the outcome, or the customer's status
/// page in Settle.
pub fn continue_url(payment: &Payment) -> String {
    match &payment.return_url {
        Some(url) => {
            let mut url = match url::Url::parse(url) {
                Ok(url) => url,
                Err(_) => return format!("/account/payments/{}", payment.reference),
            };
            url.query_pairs_mut()
                .append_pair("reference", &payment.reference)
                .append_pair("status", payment.state.name())
                .append_pair("payment_status", &payment.state.code().to_string());
            url.to_string()
        }
        None => format!("/account/payments/{}", payment.reference),
    }
}

/// The 3-D Secure result the issuer's page posts.
#[derive(Debug, Deserialize)]
pub struct ChallengeResult {
    cres: String,
    #[serde(rename = "threeDSSessionData")]
    _session_data: Option<String>,
}

/// The page seed 003 specifies for the end of a challenge, byte for byte.
const PAYMENT_COMPLETE: &str = r#"<!DOCTYPE html>
<html lang="en">
<head>
    <meta charset="UTF-8">
    <meta name="viewport" content="width=device-width, initial-scale=1.0">
    <title>Payment Complete</title>
    <script>
        window.parent.postMessage("PaymentComplete", "*");
    </script>
</head>
<body></body>
</html>
"#;

/// The page's one script, allowed by its hash so nothing else inline can run.
static PAYMENT_COMPLETE_CSP: LazyLock<String> = LazyLock::new(|| {
    let script = "\n        window.parent.postMessage(\"PaymentComplete\", \"*\");\n    ";
    let hash = base64::engine::general_purpose::STANDARD.encode(Sha256::digest(script.as_bytes()));
    format!("default-src 'none'; script-src 'sha256-{hash}'; frame-ancestors 'self'")
});

/// What the frame shows when the acquirer refused the challenge result: the seed's page with a
/// sentence in its body. It still tells the parent page the frame is done (the same script), so a
/// client polls and sees `PAYMENT_3DAUTH`.
static CHALLENGE_NOT_CONFIRMED: LazyLock<String> = LazyLock::new(|| {
    PAYMENT_COMPLETE.replace(
        "<body></body>",
        "<body><p>Your bank's check could not be confirmed, so nothing was charged. Go back to the payment page and try the check again.</p></body>",
    )
});

/// `POST /payments/{reference}/3ds-complete`: the issuer's page is done. Settle completes the
/// payment with the acquirer, then answers the seed's `PaymentComplete` page; a result the
/// acquirer refused leaves the payment waiting and says so (422).
pub async fn challenge_complete(
    State(state): State<AppState>,
    Path(reference): Path<String>,
    Form(result): Form<ChallengeResult>,
) -> Result<Response, ApiError> {
    let outcome = state.payments.complete_challenge(&reference, &result.cres).await?;
    let (status, page) = match outcome {
        ChallengeOutcome::Completed(_) => (StatusCode::OK, PAYMENT_COMPLETE.to_owned()),
        ChallengeOutcome::Refused(_) => {
            (StatusCode::UNPROCESSABLE_ENTITY, CHALLENGE_NOT_CONFIRMED.clone())
        }
    };
    let mut response = (status, Html(page)).into_response();
    if let Ok(csp) = HeaderValue::from_str(&PAYMENT_COMPLETE_CSP) {
        response.headers_mut().insert(header::CONTENT_SECURITY_POLICY, csp);
    }
    Ok(response)
}
