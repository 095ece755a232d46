//! `settle-server sandbox`: the sandbox providers as a process of their own, serving only
//! `/sandbox/...` on their own address, so a Settle server (with `sandbox = false` and
//! `sandbox_url` pointing here) talks to a provider that outlives it — a server killed and
//! restarted finds the payments it made still at its "gateway".
//!
//! The process signs notifications with the configuration's `sandbox_signing_secret` (give the
//! server the same one), starts with its `sandbox_faults`, and hands out hosted-page and ACS
//! URLs under its own public URL. Requests are logged like the server's, with a request id.

use std::net::SocketAddr;

use anyhow::Context;
use axum::Router;
use axum::extract::Request;
use axum::http::{HeaderName, HeaderValue, header};
use tokio::net::TcpListener;
use tower::ServiceBuilder;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::trace::TraceLayer;

use super::Sandbox;
use crate::config::Config;

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Where `settle-server sandbox` listens unless told otherwise.
pub const DEFAULT_BIND: &str = "127.0.0.1:3100";

/// The sandbox's public URL: `public_url` if given (an absolute http(s) URL, trailing slash
/// dropped), else `http://{bind}`.
pub fn public_url(bind: SocketAddr, public_url: Option<&str>) -> anyhow::Result<String> {
    let Some(text) = public_url.map(str::trim).filter(|t| !t.is_empty()) else {
        return Ok(format!("http://{bind}"));
    };
    match url::Url::parse(text) {
        Ok(url) if matches!(url.scheme(), "http" | "https") => {
            Ok(text.trim_end_matches('/').to_owned())
        }
        _ => anyhow::bail!("--public-url must be an absolute http(s) URL, not {text:?}"),
    }
}

/// The router: the sandbox under `/sandbox`, nothing else.
pub fn router(config: &Config, public_url: &str) -> Router {
    let sandbox = Sandbox::from_config(config, public_url);
    // No `frame-ancestors`: an issuer's challenge page is framed by the merchant's site, which
    // is another origin once the sandbox runs on its own.
    let csp = "default-src 'self'; script-src 'none'; style-src 'self'; base-uri 'none'";
    Router::new()
        .nest_service("/sandbox", super::router(sandbox))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(csp),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        .layer(
            ServiceBuilder::new()
                .layer(SetRequestIdLayer::new(REQUEST_ID, MakeRequestUuid))
                .layer(TraceLayer::new_for_http().make_span_with(|request: &Request| {
                    let id = request
                        .headers()
                        .get(REQUEST_ID)
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or("-");
                    tracing::info_span!(
                        "request",
                        id,
                        method = %request.method(),
                        path = %request.uri().path()
                    )
                }))
                .layer(PropagateRequestIdLayer::new(REQUEST_ID))
                .layer(CatchPanicLayer::new())
                .layer(RequestBodyLimitLayer::new(1024 * 1024)),
        )
}

/// A sandbox serving in the background (tests use this with port 0).
pub struct RunningSandbox {
    /// Where it listens.
    pub addr: SocketAddr,
    /// Its public URL (hosted pages are under `{public_url}/sandbox/...`).
    pub public_url: String,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl RunningSandbox {
    /// Stops accepting connections and finishes requests in flight.
    pub async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        let _ = (&mut self.task).await;
    }
}

/// Serves the sandbox on `listener` until [`RunningSandbox::stop`]; `public_url` as in
/// [`public_url`].
pub async fn start(
    config: &Config,
    listener: TcpListener,
    public_url: Option<&str>,
) -> anyhow::Result<RunningSandbox> {
    let addr = listener.local_addr()?;
    let public_url = self::public_url(addr, public_url)?;
    let router = router(config, &public_url);
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(
        axum::serve(listener, router)
            .with_graceful_shutdown(async move {
                let _ = rx.await;
            })
            .into_future(),
    );
    Ok(RunningSandbox { addr, public_url, shutdown: Some(tx), task })
}

/// `settle-server sandbox`: serves until SIGTERM or Ctrl-C.
pub async fn serve(
    config: Config,
    bind: SocketAddr,
    public_url: Option<String>,
) -> anyhow::Result<()> {
    let listener = TcpListener::bind(bind)
        .await
        .with_context(|| format!("listening on {bind} (option --bind)"))?;
    let running = start(&config, listener, public_url.as_deref()).await?;
    if config.sandbox_signing_secret_is_generated() {
        tracing::warn!(
            "sandbox_signing_secret is not set: notifications are signed with a random key made \
             at start, which no Settle server knows; set the same key here and on the server"
        );
    }
    tracing::info!(
        address = %running.addr,
        mode = ?config.mode,
        "Settle sandbox is serving {}/sandbox",
        running.public_url
    );
    crate::shutdown_signal().await;
    tracing::info!("sandbox shutting down: finishing requests in flight");
    running.stop().await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn public_url_defaults_to_the_bind_address() {
        let bind: SocketAddr = DEFAULT_BIND.parse().unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(public_url(bind, None).ok().as_deref(), Some("http://127.0.0.1:3100"));
        assert_eq!(
            public_url(bind, Some("https://sandbox.example/")).ok().as_deref(),
            Some("https://sandbox.example")
        );
        assert!(public_url(bind, Some("ftp://x")).is_err());
    }
}
