//! Where gateways reach Settle whatever the client: server-to-server notifications and the end of
//! a 3-D Secure challenge. (The customer's return from a hosted page is seed 000's `process/`,
//! which every hosted flow shares: see `insurance_checkout`.)

use std::sync::LazyLock;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Form, Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::post;
use base64::Engine;
use serde::Deserialize;
use serde_json::json;
use settle::payment::{ChallengeOutcome, Channel};
use sha2::{Digest, Sha256};

use crate::api::routes::{Guard, POST, Routes};
use crate::error::ApiError;
use crate::state::AppState;

/// Where gateways reach this server's callbacks, for the connectors to give them.
pub fn urls(public_url: url::Url) -> settle::payment::orchestrator::CallbackUrls {
    settle::payment::orchestrator::CallbackUrls {
        public_url,
        notification: "/gateway/notify/{gateway}".into(),
        hosted_return: crate::api::insurance_checkout::PROCESS_PATH.into(),
        challenge_return: "/payments/{reference}/3ds-complete".into(),
        collection_return: crate::api::pay_now::collection::PEACH_REDIRECT.into(),
    }
}

/// The callbacks' routes.
pub fn routes() -> Routes {
    Routes::new().add(Guard::Gateway, POST, "/gateway/notify/{gateway}", post(notify)).add(
        Guard::Gateway,
        POST,
        "/payments/{reference}/3ds-complete",
        post(challenge_complete),
    )
}

/// `POST /gateway/notify/{gateway}`: a signed notification. 200 once recorded (even a duplicate,
/// so the gateway stops resending), 401 if the signature doesn't verify.
#[utoipa::path(
    post,
    path = "/gateway/notify/{gateway}",
    tag = crate::api::openapi::CALLBACKS,
    params(("gateway" = String, Path, description = "The gateway key")),
    request_body(content = serde_json::Value, content_type = "application/json", description = "The gateway’s signed notification"),
    responses(
        (status = 200, description = "Accepted"),
        (status = "4XX", description = "Refused: the answer names the problem"),
    )
)]
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

/// The 3-D Secure result the issuer's page posts.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
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
/// acquirer refused leaves the payment waiting and says so (422). A payment started on Settle's
/// own pages goes on instead to the page of Settle's that ends the check inside the frame (it
/// says how the check went and leads out of the frame, with or without script).
#[utoipa::path(
    post,
    path = "/payments/{reference}/3ds-complete",
    tag = crate::api::openapi::CALLBACKS,
    params(("reference" = String, Path, description = "The payment reference")),
    request_body(content = ChallengeResult, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 200, description = "The completion page", content_type = "text/html"),
        (status = 303, description = "On to the next step"),
        (status = "4XX", description = "Refused: the answer names the problem"),
    )
)]
pub async fn challenge_complete(
    State(state): State<AppState>,
    Path(reference): Path<String>,
    Form(result): Form<ChallengeResult>,
) -> Result<Response, ApiError> {
    let outcome = state.payments.complete_challenge(&reference, &result.cres).await?;
    let (status, page, payment) = match outcome {
        ChallengeOutcome::Completed(payment) => {
            (StatusCode::OK, PAYMENT_COMPLETE.to_owned(), payment)
        }
        ChallengeOutcome::Refused(payment) => {
            (StatusCode::UNPROCESSABLE_ENTITY, CHALLENGE_NOT_CONFIRMED.clone(), payment)
        }
    };
    if payment.channel == Channel::Pages {
        let next = settle_app::links::challenge_complete_href(&payment.reference);
        return Ok(Redirect::to(&next).into_response());
    }
    let mut response = (status, Html(page)).into_response();
    if let Ok(csp) = HeaderValue::from_str(&PAYMENT_COMPLETE_CSP) {
        response.headers_mut().insert(header::CONTENT_SECURITY_POLICY, csp);
    }
    Ok(response)
}
