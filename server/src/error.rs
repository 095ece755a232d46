//! REST errors: RFC 9457 problem details, converted from the core's error at the edge.
//! Internal errors are logged (with the request id from the surrounding span) and answered
//! without detail.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use settle::FieldError;

/// An API error on its way to becoming an `application/problem+json` response.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    title: &'static str,
    detail: String,
    errors: Vec<FieldError>,
    retry_after: Option<u64>,
    payment_reference: Option<String>,
}

#[derive(Serialize)]
struct Problem<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    title: &'a str,
    status: u16,
    detail: &'a str,
    #[serde(skip_serializing_if = "<[FieldError]>::is_empty")]
    errors: &'a [FieldError],
    /// The payment a refused attempt waits for (a 409 while another attempt is in progress).
    #[serde(skip_serializing_if = "Option::is_none")]
    payment_reference: Option<&'a str>,
}

impl ApiError {
    /// An error with a status and a sentence for the client.
    pub fn new(status: StatusCode, detail: impl Into<String>) -> ApiError {
        ApiError {
            status,
            title: status.canonical_reason().unwrap_or("Error"),
            detail: detail.into(),
            errors: Vec::new(),
            retry_after: None,
            payment_reference: None,
        }
    }

    /// The same problem answered with another status (a dialect whose platform answers its
    /// validation errors with 400, say).
    pub fn with_status(mut self, status: StatusCode) -> ApiError {
        self.status = status;
        self.title = status.canonical_reason().unwrap_or("Error");
        self
    }

    /// The same error with another sentence for the client (a refusal that says what to fix).
    pub fn with_detail(mut self, detail: impl Into<String>) -> ApiError {
        self.detail = detail.into();
        self
    }

    /// 401 with a reason.
    pub fn unauthorized(detail: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::UNAUTHORIZED, detail)
    }
}

impl From<settle::Error> for ApiError {
    fn from(e: settle::Error) -> ApiError {
        use settle::Error as E;
        match e {
            E::Validation(errors) => ApiError {
                errors,
                ..ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "The request has invalid fields.")
            },
            E::NotFound(what) => ApiError::new(StatusCode::NOT_FOUND, format!("No such {what}.")),
            E::Conflict(why) => ApiError::new(StatusCode::CONFLICT, why),
            E::PaymentInProgress(reference) => ApiError {
                payment_reference: Some(reference.clone()),
                ..ApiError::new(
                    StatusCode::CONFLICT,
                    format!(
                        "Payment {reference} for this purchase is still in progress: its gateway's answer will settle it, and nothing else is tried meanwhile. Poll it, then retry if it failed."
                    ),
                )
            },
            E::Unauthorized => ApiError::unauthorized("Missing or invalid credentials."),
            E::Forbidden => ApiError::new(StatusCode::FORBIDDEN, "Not allowed."),
            E::Throttled { retry_after_secs } => ApiError {
                retry_after: Some(retry_after_secs),
                ..ApiError::new(
                    StatusCode::TOO_MANY_REQUESTS,
                    "Too many attempts; try again later.",
                )
            },
            internal => {
                tracing::error!(error = %internal, "internal error");
                ApiError::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "Something went wrong on our side. Quote the x-request-id header if you contact support.",
                )
            }
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let problem = Problem {
            kind: "about:blank",
            title: self.title,
            status: self.status.as_u16(),
            detail: &self.detail,
            errors: &self.errors,
            payment_reference: self.payment_reference.as_deref(),
        };
        let mut response = (self.status, Json(&problem)).into_response();
        let headers = response.headers_mut();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/problem+json"));
        if let Some(secs) = self.retry_after {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        response
    }
}
