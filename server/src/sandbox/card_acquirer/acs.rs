//! The issuer's side of the sandbox card provider: the 3-D Secure challenge pages (ACS) in the
//! customer's browser, and the base64url JSON messages (`creq`, `cres`) they exchange.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Deserialize;
use serde_json::{Value, json};

use super::*;
use crate::sandbox::html::{self, escape};
use crate::sandbox::request::Refusal;

/// A challenge for transaction `id`: `creq` as seed 003 shows it (base64url JSON), and the
/// session data the browser carries through the ACS and back to the merchant.
pub(super) fn new_challenge(id: &str) -> Challenge {
    let acs_trans_id = uuid::Uuid::new_v4().to_string();
    let creq = json!({
        "messageType": "CReq",
        "messageVersion": MESSAGE_VERSION,
        "threeDSServerTransID": id,
        "acsTransID": acs_trans_id,
        "challengeWindowSize": "05",
    });
    Challenge {
        creq: URL_SAFE_NO_PAD.encode(creq.to_string()),
        session_data: URL_SAFE_NO_PAD.encode(id),
        acs_trans_id,
        outcome: None,
    }
}

/// Decodes a base64url (padded or not, either alphabet) JSON 3-D Secure message.
pub(super) fn decode_message(text: &str) -> Option<Value> {
    let normalised: String = text
        .trim()
        .trim_end_matches('=')
        .chars()
        .map(|c| match c {
            '+' => '-',
            '/' => '_',
            c => c,
        })
        .collect();
    let bytes = URL_SAFE_NO_PAD.decode(normalised).ok()?;
    serde_json::from_slice(&bytes).ok()
}

/// The two ids every 3-D Secure message carries, and its `transStatus` if any.
pub(super) struct MessageIds {
    pub(super) transaction_id: String,
    pub(super) acs_trans_id: String,
    pub(super) trans_status: Option<String>,
}

pub(super) fn message_ids(message: &Value, message_type: &str) -> Option<MessageIds> {
    if message["messageType"].as_str() != Some(message_type) {
        return None;
    }
    Some(MessageIds {
        transaction_id: message["threeDSServerTransID"].as_str()?.to_owned(),
        acs_trans_id: message["acsTransID"].as_str()?.to_owned(),
        trans_status: message["transStatus"].as_str().map(str::to_owned),
    })
}

/// The form seed 003's page posts to `acsurl`.
#[derive(Deserialize)]
struct AcsForm {
    creq: Option<String>,
    #[serde(rename = "threeDSSessionData")]
    session_data: Option<String>,
}

/// The customer's answer on the challenge page.
#[derive(Deserialize)]
struct AcsAnswerForm {
    #[serde(rename = "acsTransID")]
    acs_trans_id: Option<String>,
    #[serde(rename = "threeDSSessionData")]
    session_data: Option<String>,
    outcome: Option<String>,
}

pub(super) async fn acs_challenge_page(
    State(acquirer): State<CardAcquirer>,
    body: Bytes,
) -> Result<Response, Refusal> {
    let form: AcsForm = serde_urlencoded::from_bytes(&body)
        .map_err(|_| refused_page("The challenge request could not be read."))?;
    let ids = form
        .creq
        .as_deref()
        .and_then(decode_message)
        .as_ref()
        .and_then(|m| message_ids(m, "CReq"))
        .ok_or_else(|| refused_page("The challenge request (creq) is missing or malformed."))?;
    let session_data = form.session_data.unwrap_or_default();
    let store = acquirer.lock();
    let tx = store
        .transactions
        .get(&ids.transaction_id)
        .filter(|tx| tx.challenge.as_ref().is_some_and(|c| c.acs_trans_id == ids.acs_trans_id))
        .ok_or_else(|| refused_page("This challenge request was not issued by this ACS."))?;
    let Some(challenge) = &tx.challenge else {
        return Err(refused_page("This transaction has no challenge."));
    };
    if tx.status != Status::ThreeDAuth {
        return Err(closed_page("This challenge is closed."));
    }
    if let Some(authenticated) = challenge.outcome {
        // A reloaded page before the merchant finished: show the answer already given
        // rather than asking again.
        return acquirer.result_page(tx, authenticated, &session_data);
    }
    let content = format!(
        r#"<p class="lead">Sandbox issuer: confirm this payment.</p>
<dl>
<dt>Merchant reference</dt><dd>{reference}</dd>
<dt>Amount</dt><dd>{amount}</dd>
<dt>Card</dt><dd>{brand} ending {last4}, expires {expiry}</dd>
</dl>
<form method="post" action="{action}">
<input type="hidden" name="acsTransID" value="{acs}">
<input type="hidden" name="threeDSSessionData" value="{session}">
<p><button type="submit" name="outcome" value="authenticate">Authenticate</button>
<button type="submit" class="link" name="outcome" value="fail">Fail authentication</button></p>
</form>"#,
        reference = escape(&tx.merchant_reference),
        amount = escape(&tx.amount.to_string()),
        brand = escape(tx.card.brand),
        last4 = escape(&tx.card.last4),
        expiry = escape(&tx.card.expiry),
        action = escape(&format!("{}/{}", acs_url(&acquirer.sandbox.public_url), tx.id)),
        acs = escape(&challenge.acs_trans_id),
        session = escape(&session_data),
    );
    Ok(issuer_page(StatusCode::OK, "3-D Secure challenge", &content))
}

impl CardAcquirer {
    /// The page after the customer answered: a form that takes the browser, with `cres`, back to
    /// the merchant. It needs a click ("Continue"): our content security policy allows no
    /// inline script to submit it automatically.
    fn result_page(
        &self,
        tx: &Transaction,
        authenticated: bool,
        session_data: &str,
    ) -> Result<Response, Refusal> {
        let Some(challenge) = &tx.challenge else {
            return Err(closed_page("This transaction has no challenge."));
        };
        let Some(return_url) = &tx.challenge_return_url else {
            return Err(closed_page("No return address was given."));
        };
        let cres = json!({
            "messageType": "CRes",
            "messageVersion": MESSAGE_VERSION,
            "threeDSServerTransID": tx.id,
            "acsTransID": challenge.acs_trans_id,
            "challengeCompletionInd": "Y",
            "transStatus": if authenticated { "Y" } else { "N" },
        });
        let message =
            if authenticated { "You have been authenticated." } else { "Authentication failed." };
        let content = format!(
            r#"<p class="lead">{message} Continue to return to the merchant.</p>
<form method="post" action="{action}">
<input type="hidden" name="cres" value="{cres}">
<input type="hidden" name="threeDSSessionData" value="{session}">
<p><button type="submit">Continue</button></p>
</form>"#,
            action = escape(return_url),
            cres = escape(&URL_SAFE_NO_PAD.encode(cres.to_string())),
            session = escape(session_data),
        );
        Ok(issuer_page(StatusCode::OK, "3-D Secure challenge complete", &content))
    }
}

pub(super) async fn acs_answer(
    State(acquirer): State<CardAcquirer>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Response, Refusal> {
    let form: AcsAnswerForm = serde_urlencoded::from_bytes(&body)
        .map_err(|_| refused_page("The answer could not be read."))?;
    let authenticated = match form.outcome.as_deref() {
        Some("authenticate") => true,
        Some("fail") => false,
        _ => return Err(refused_page("Choose Authenticate or Fail authentication.")),
    };
    let mut store = acquirer.lock();
    let tx = store
        .transactions
        .get_mut(&id)
        .filter(|tx| {
            tx.challenge
                .as_ref()
                .is_some_and(|c| Some(&c.acs_trans_id) == form.acs_trans_id.as_ref())
        })
        .ok_or_else(|| refused_page("This challenge was not issued by this ACS."))?;
    if tx.status != Status::ThreeDAuth {
        return Err(closed_page("This challenge is closed."));
    }
    let Some(challenge) = tx.challenge.as_mut() else {
        return Err(refused_page("This transaction has no challenge."));
    };
    match challenge.outcome {
        Some(given) if given != authenticated => {
            return Err(issuer_page(
                StatusCode::CONFLICT,
                "Challenge answered",
                "This challenge was already answered differently.",
            )
            .into());
        }
        _ => challenge.outcome = Some(authenticated),
    }
    let tx = tx.clone();
    drop(store);
    acquirer.result_page(&tx, authenticated, form.session_data.as_deref().unwrap_or(""))
}

/// A challenge request or answer the issuer cannot read or did not issue.
fn refused_page(message: &str) -> Refusal {
    issuer_page(StatusCode::BAD_REQUEST, "Challenge refused", message).into()
}

/// A challenge that can no longer be answered.
fn closed_page(message: &str) -> Refusal {
    issuer_page(StatusCode::CONFLICT, "Challenge closed", message).into()
}

/// An issuer's page: the sandbox's frame, headed by its title.
fn issuer_page(status: StatusCode, title: &str, content: &str) -> Response {
    let content = format!("<h1>{}</h1>\n{content}", escape(title));
    html::page(status, "Sandbox issuer", title, &content)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_round_trip() {
        let challenge = new_challenge("T1");
        let creq = decode_message(&challenge.creq).unwrap();
        let ids = message_ids(&creq, "CReq").unwrap();
        assert_eq!(
            (ids.transaction_id.as_str(), ids.acs_trans_id.as_str()),
            ("T1", challenge.acs_trans_id.as_str())
        );
        assert!(message_ids(&creq, "CRes").is_none());
        assert!(decode_message("not base64!").is_none());
    }
}
