//! The core's one error type. Every layer above converts it at its edge (REST problem details,
//! seed-specific error shapes, page flash messages).

use std::fmt;

use serde::Serialize;

/// One invalid input, named by the field a client sent, so APIs can answer with errors per field.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldError {
    /// The field as the client named it (`card_number`, `billing_address.postcode`).
    pub field: String,
    /// A sentence a person can act on.
    pub message: String,
}

impl FieldError {
    /// An error about `field`.
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self { field: field.into(), message: message.into() }
    }

    /// The same error, reported under another field name (a parser knows the value, the caller
    /// knows where it came from).
    pub fn at(mut self, field: impl Into<String>) -> Self {
        self.field = field.into();
        self
    }
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.message)
    }
}

impl std::error::Error for FieldError {}

/// Everything the core can fail with.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The input is invalid; each entry names its field.
    #[error("invalid input: {}", display_fields(.0))]
    Validation(Vec<FieldError>),
    /// The thing asked for does not exist (or is not visible to the caller).
    #[error("{0} not found")]
    NotFound(&'static str),
    /// The request conflicts with the current state (a duplicate, an illegal transition).
    #[error("conflict: {0}")]
    Conflict(String),
    /// Another attempt to pay the same purchase is under way (its reference given); it must be
    /// settled by its gateway before anything else is tried, so the caller waits or polls it.
    #[error("payment {0} for this purchase is still in progress")]
    PaymentInProgress(String),
    /// Credentials are missing or wrong.
    #[error("unauthorized")]
    Unauthorized,
    /// The caller is known but may not do this.
    #[error("forbidden")]
    Forbidden,
    /// Too many attempts; try again after the given number of seconds.
    #[error("too many attempts, retry after {retry_after_secs} s")]
    Throttled {
        /// Seconds until the next attempt may succeed.
        retry_after_secs: u64,
    },
    /// The database failed. Details are logged, never shown to clients.
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    /// A schema migration failed.
    #[error("migration error: {0}")]
    Migration(#[from] sqlx::migrate::MigrateError),
    /// Anything else that is our fault. Details are logged, never shown to clients.
    #[error("internal error: {0}")]
    Internal(String),
}

fn display_fields(fields: &[FieldError]) -> String {
    fields.iter().map(ToString::to_string).collect::<Vec<_>>().join("; ")
}

impl From<FieldError> for Error {
    fn from(e: FieldError) -> Self {
        Error::Validation(vec![e])
    }
}

impl Error {
    /// A validation error about a single field.
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        Error::Validation(vec![FieldError::new(field, message)])
    }

    /// Whether the cause is ours (logged with details) rather than the caller's.
    pub fn is_internal(&self) -> bool {
        matches!(self, Error::Database(_) | Error::Migration(_) | Error::Internal(_))
    }
}

/// The core's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
