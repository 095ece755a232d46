//! Seed 000's wire: the answers of `/api/v3/payment/...` in the document's shapes and words.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use settle::FieldError;
use settle::checkout::{Action, Outcome, Started};
use settle::connector::HostedForm;
use settle::gateway::Gateway;
use settle::payment::PaymentState;

use crate::error::ApiError;

/// One gateway of the list.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct GatewayView {
    gateway: String,
    name: String,
    provider: String,
}

impl From<Gateway> for GatewayView {
    fn from(g: Gateway) -> GatewayView {
        GatewayView { gateway: g.id, name: g.name, provider: g.provider }
    }
}

/// The initiate answer, as the seed shows it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct InitiateView {
    action: &'static str,
    url: Option<String>,
    token: String,
}

impl From<&Started> for InitiateView {
    fn from(started: &Started) -> InitiateView {
        let url = match started.action {
            Action::PaymentRequired => started.payment.redirect_url.clone(),
            _ => None,
        };
        InitiateView {
            action: action(started.action),
            url,
            token: started.payment.reference.clone(),
        }
    }
}

/// The action exactly as the document spells it.
pub fn action(action: Action) -> &'static str {
    match action {
        Action::PaymentRequired => "Payment required",
        Action::NoPaymentRequired => "No payment required",
        Action::PaymentToBeInvoiced => "Payment to be invoiced",
    }
}

/// The token answer, as the seed shows it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct TokenView {
    pub url: Option<String>,
    pub token: Option<String>,
    pub form: Option<String>,
    pub status: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    #[schema(value_type = Vec<Object>)]
    pub errors: Vec<FieldError>,
}

impl TokenView {
    pub fn refused(
        status: StatusCode,
        message: impl Into<String>,
        errors: Vec<FieldError>,
    ) -> Response {
        let view = TokenView { url: None, token: None, form: None, status: message.into(), errors };
        (status, Json(view)).into_response()
    }

    pub fn from_error(e: settle::Error) -> Response {
        use settle::Error as E;
        match e {
            E::Validation(errors) => {
                let message = errors.iter().map(ToString::to_string).collect::<Vec<_>>().join("; ");
                TokenView::refused(StatusCode::UNPROCESSABLE_ENTITY, message, errors)
            }
            E::NotFound(what) => {
                TokenView::refused(StatusCode::NOT_FOUND, format!("No such {what}."), Vec::new())
            }
            E::Conflict(why) => TokenView::refused(StatusCode::CONFLICT, why, Vec::new()),
            // The token of the payment under way, so the client can check on it with `status/`.
            E::PaymentInProgress(reference) => {
                let view = TokenView {
                    url: None,
                    status: format!(
                        "Payment {reference} for this policy is still in progress; check its status before paying again."
                    ),
                    token: Some(reference),
                    form: None,
                    errors: Vec::new(),
                };
                (StatusCode::CONFLICT, Json(view)).into_response()
            }
            // Everything else keeps the problem-details mapping (auth, throttling, our faults).
            other => ApiError::from(other).into_response(),
        }
    }
}

/// A payment's outcome as status and complete answer it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct OutcomeView {
    token: String,
    status: &'static str,
    payment_status: i16,
    client_feedback: &'static str,
    #[serde(rename = "final")]
    is_final: bool,
    policy_number: String,
    policy_status: String,
    policy_start: Option<chrono::DateTime<chrono::Utc>>,
    policy_end: Option<chrono::DateTime<chrono::Utc>>,
    amount: String,
    currency: &'static str,
    gateway: String,
    url: Option<String>,
    failure_reason: Option<String>,
    updated_at: chrono::DateTime<chrono::Utc>,
}

impl From<Outcome> for OutcomeView {
    fn from(Outcome { payment, service: policy }: Outcome) -> OutcomeView {
        let state = payment.state;
        OutcomeView {
            token: payment.reference,
            status: state.name(),
            payment_status: state.code(),
            client_feedback: state.sentence(),
            is_final: state.is_final(),
            policy_number: policy.reference,
            policy_status: policy.status,
            policy_start: policy.period_start,
            policy_end: policy.period_end,
            amount: payment.amount.to_decimal().to_string(),
            currency: payment.amount.currency().code(),
            gateway: payment.gateway_id,
            url: payment.redirect_url.filter(|_| state == PaymentState::AwaitingCustomer),
            failure_reason: payment.failure_reason,
            updated_at: payment.updated_at,
        }
    }
}

/// The seed's `form`: a small HTML form that takes the browser to the gateway, posting the
/// gateway's fields where it asked for a POST, else a GET of the redirect URL (its query as
/// hidden fields, since a GET form replaces the action's query). No script: the client submits it
/// or simply redirects to `url`.
pub fn checkout_form(redirect: &str, form: Option<&HostedForm>) -> Option<String> {
    let (method, action, fields) = match form {
        Some(form) => ("post", form.action.clone(), form.fields.clone()),
        None => {
            let url = url::Url::parse(redirect).ok()?;
            let fields: Vec<(String, String)> = url.query_pairs().into_owned().collect();
            let mut action = url;
            action.set_query(None);
            ("get", action.to_string(), fields)
        }
    };
    let mut html = format!(r#"<form method="{method}" action="{}">"#, escape(&action));
    for (name, value) in &fields {
        html.push_str(&format!(
            r#"<input type="hidden" name="{}" value="{}">"#,
            escape(name),
            escape(value)
        ));
    }
    html.push_str(r#"<button type="submit">Continue to payment</button></form>"#);
    Some(html)
}

/// Escapes text for HTML content and double-quoted attribute values.
fn escape(text: &str) -> String {
    html_escape::encode_double_quoted_attribute(text).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn actions_are_spelled_as_the_seed_spells_them() {
        let actions =
            [Action::PaymentRequired, Action::NoPaymentRequired, Action::PaymentToBeInvoiced];
        assert_eq!(
            actions.map(action),
            ["Payment required", "No payment required", "Payment to be invoiced"]
        );
    }

    #[test]
    fn forms_get_the_redirect_or_post_the_gateway_fields() {
        let get = checkout_form("https://pay.example/pay/co_1?lang=en&x=%22", None).unwrap();
        assert_eq!(
            get,
            r#"<form method="get" action="https://pay.example/pay/co_1"><input type="hidden" name="lang" value="en"><input type="hidden" name="x" value="&quot;"><button type="submit">Continue to payment</button></form>"#
        );
        let post = HostedForm {
            action: "https://pay.example/post".into(),
            fields: vec![("signature".into(), "a<b".into())],
        };
        let html = checkout_form("https://pay.example/pay/co_1", Some(&post)).unwrap();
        assert!(html.starts_with(r#"<form method="post" action="https://pay.example/post">"#));
        assert!(html.contains(r#"name="signature" value="a&lt;b""#));
    }
}
