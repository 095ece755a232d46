//! The client's address, for login throttling and logs.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, Request, State};
use axum::middleware::Next;
use axum::response::Response;
use settle_app::auth::ClientAddr;

use crate::state::AppState;

/// Puts a [`ClientAddr`] into every request: the peer address, or the first `X-Forwarded-For`
/// hop when `trust_forwarded_for` says a proxy in front sets it.
pub async fn client_addr(
    State(state): State<AppState>,
    mut request: Request,
    next: Next,
) -> Response {
    let forwarded = state
        .config
        .trust_forwarded_for
        .then(|| {
            request
                .headers()
                .get("x-forwarded-for")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.split(',').next())
                .map(|v| v.trim().to_owned())
        })
        .flatten();
    let peer = request.extensions().get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip().to_string());
    let addr = forwarded.or(peer).unwrap_or_else(|| "unknown".into());
    request.extensions_mut().insert(ClientAddr(addr));
    next.run(request).await
}
