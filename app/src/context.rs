//! What pages and server functions get from the server, through Leptos context.

use settle::Db;
use settle::account::throttle::ThrottlePolicy;
use settle::payment::Orchestrator;

/// Handed to every page render and server function call by the server.
#[derive(Clone)]
pub struct PageContext {
    /// The database.
    pub db: Db,
    /// Login throttling limits.
    pub login_throttle: ThrottlePolicy,
    /// Starts and advances payments (the same core the REST APIs call).
    pub payments: Orchestrator,
}

/// The page context, or an error if the server did not provide one (a wiring bug).
pub fn page_context() -> Result<PageContext, crate::PageError> {
    leptos::prelude::use_context::<PageContext>().ok_or_else(|| {
        tracing::error!("page context missing");
        crate::PageError::internal(crate::error::SOMETHING_WENT_WRONG)
    })
}
