//! The error every server function answers with: an HTTP status and a sentence for the person.
//!
//! Leptos 0.8 answers every server-function error with 500 (server_fn 0.8 has no per-error
//! status), so the error carries its status in its JSON body and the server's
//! `web::server_fns::error_status` layer puts it on the response. A form posted without script is
//! answered with a redirect back to its page instead, whatever the status: that layer turns the
//! message into a flash there.

use std::fmt;

use leptos::prelude::{FromServerFnError, ServerFnError, ServerFnErrorErr};
use leptos::server_fn::codec::JsonEncoding;
use serde::{Deserialize, Serialize};

/// A server function's failure: what to tell the person, and the status that fits.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PageError {
    /// The HTTP status code (400, 401, 403, 404, 409, 500, 503).
    pub status: u16,
    /// A sentence the person can act on; never internals.
    pub message: String,
}

impl PageError {
    fn with(status: u16, message: impl Into<String>) -> PageError {
        PageError { status, message: message.into() }
    }

    /// 400: the request itself is wrong (missing or malformed arguments).
    pub fn bad_request(message: impl Into<String>) -> PageError {
        PageError::with(400, message)
    }

    /// 401: nobody is logged in.
    pub fn unauthorized(message: impl Into<String>) -> PageError {
        PageError::with(401, message)
    }

    /// 403: logged in, but not allowed.
    pub fn forbidden(message: impl Into<String>) -> PageError {
        PageError::with(403, message)
    }

    /// 404: no such thing, or not this person's (the two look the same on purpose).
    pub fn not_found(message: impl Into<String>) -> PageError {
        PageError::with(404, message)
    }

    /// 409: the thing exists but its state doesn't allow this (nothing due, already paid).
    pub fn conflict(message: impl Into<String>) -> PageError {
        PageError::with(409, message)
    }

    /// 503: a dependency (database, session store) can't answer right now.
    pub fn unavailable(message: impl Into<String>) -> PageError {
        PageError::with(503, message)
    }

    /// 500: a fault on our side; the caller logs the details, the person gets only `message`.
    pub fn internal(message: impl Into<String>) -> PageError {
        PageError::with(500, message)
    }

    /// The status as an HTTP status code (500 if it is somehow not a valid one).
    pub fn status_code(&self) -> http::StatusCode {
        http::StatusCode::from_u16(self.status).unwrap_or(http::StatusCode::INTERNAL_SERVER_ERROR)
    }
}

impl fmt::Display for PageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for PageError {}

/// The sentence for arguments that could not be read: a hand-made or stale form.
pub const UNREADABLE_FORM: &str =
    "The form could not be read. Go back to the page, reload it and try again.";

impl FromServerFnError for PageError {
    type Encoder = JsonEncoding;

    fn from_server_fn_error(value: ServerFnErrorErr) -> Self {
        match value {
            // The arguments' text is not logged: a card form's fields are among them.
            ServerFnErrorErr::Args(_)
            | ServerFnErrorErr::MissingArg(_)
            | ServerFnErrorErr::Deserialization(_) => PageError::bad_request(UNREADABLE_FORM),
            other => {
                tracing::error!(error = %other, "server function failed");
                PageError::internal(SOMETHING_WENT_WRONG)
            }
        }
    }
}

/// The sentence for a fault on our side.
pub const SOMETHING_WENT_WRONG: &str =
    "Something went wrong on our side. Please try again in a few minutes.";

/// The sentence for a policy that isn't the customer's (or doesn't exist: the two look alike).
pub const NO_SUCH_POLICY: &str = "We can't find that policy on your account.";

/// The sentence for a payment that isn't the customer's (or doesn't exist).
pub const NO_SUCH_PAYMENT: &str = "We can't find that payment on your account.";

/// The sentence for a page whose data can't be loaded because of a fault on our side.
pub const CANT_BE_SHOWN: &str = "This can't be shown right now. Please try again in a few minutes.";

/// The sentence when the session store fails.
pub const SESSIONS_UNAVAILABLE: &str =
    "Sessions are unavailable right now. Please try again in a few minutes.";

impl PageError {
    /// Logs a core failure while doing `what` and gives the person a sentence without its
    /// details (500): `.map_err(PageError::logged("loading the policy"))`.
    pub fn logged(what: &'static str) -> impl Fn(settle::Error) -> PageError {
        move |e| {
            tracing::error!(error = %e, "{what} failed");
            PageError::internal(CANT_BE_SHOWN)
        }
    }
}

/// Leptos's own helpers (`leptos_axum::extract`) fail with `ServerFnErrorErr`.
impl From<ServerFnErrorErr> for PageError {
    fn from(e: ServerFnErrorErr) -> PageError {
        PageError::from_server_fn_error(e)
    }
}

/// The older catch-all error, should a helper still answer with it: a wiring fault.
impl From<ServerFnError> for PageError {
    fn from(e: ServerFnError) -> PageError {
        tracing::error!(error = %e, "server function plumbing failed");
        PageError::internal(SOMETHING_WENT_WRONG)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn framework_errors_about_arguments_are_the_callers_fault() {
        let e = PageError::from_server_fn_error(ServerFnErrorErr::Args("card_number=4111".into()));
        assert_eq!(e.status, 400);
        assert!(!e.message.contains("4111"));
        let e = PageError::from_server_fn_error(ServerFnErrorErr::MissingArg("policy".into()));
        assert_eq!(e.status, 400);
        let e = PageError::from_server_fn_error(ServerFnErrorErr::Response("boom".into()));
        assert_eq!(e.status, 500);
        assert!(!e.message.contains("boom"));
    }

    #[test]
    fn the_status_survives_the_wire() {
        let e = PageError::not_found("We can't find that policy on your account.");
        let bytes = e.ser();
        assert_eq!(PageError::de(bytes), e);
        assert_eq!(e.status_code(), http::StatusCode::NOT_FOUND);
    }
}
