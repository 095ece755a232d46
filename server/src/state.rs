//! What every handler can reach.

use std::sync::Arc;

use axum::extract::FromRef;
use leptos::config::LeptosOptions;
use settle::Db;
use settle::payment::Orchestrator;
use settle_app::PageContext;

use crate::config::Config;

/// Shared, cheaply clonable server state.
#[derive(Clone)]
pub struct AppState {
    /// The database.
    pub db: Db,
    /// The configuration the server started with.
    pub config: Arc<Config>,
    /// Starts, advances and settles payments.
    pub payments: Orchestrator,
    /// What pages and server functions need (handed to Leptos as context).
    pub pages: PageContext,
    /// Leptos's own options (output name, site address).
    pub leptos_options: LeptosOptions,
    /// The key idempotency fingerprints are made with (kept in the database, shared by every
    /// instance).
    pub idempotency_secret: Arc<Vec<u8>>,
    /// The content security policy, whose frame sources follow the gateways.
    pub csp: Arc<crate::web::headers::ContentSecurityPolicy>,
}

impl FromRef<AppState> for LeptosOptions {
    fn from_ref(state: &AppState) -> Self {
        state.leptos_options.clone()
    }
}
