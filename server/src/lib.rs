//! settle-server: configuration, the HTTP router (seed-compatible REST APIs, pages, static
//! files), sessions and their guards, and the process around them.

pub mod api;
pub mod cli;
pub mod config;
pub mod error;
pub mod jobs;
pub mod sandbox;
pub mod session_store;
pub mod state;
pub mod static_files;
pub mod telemetry;
pub mod web;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use axum::Router;
use axum::extract::Request;
use axum::http::{HeaderName, HeaderValue, header};
use axum::middleware::{from_fn, from_fn_with_state};
use axum::response::IntoResponse;
use leptos::config::LeptosOptions;
use leptos::prelude::provide_context;
use leptos_axum::{LeptosRoutes, generate_route_list};
use settle::Db;
use settle_app::{App, PageContext, shell};
use tokio::net::TcpListener;
use tower::ServiceBuilder;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::trace::TraceLayer;
use tower_sessions::cookie::SameSite;
use tower_sessions::{Expiry, SessionManagerLayer};

use crate::config::Config;
use crate::session_store::DbSessionStore;
use crate::state::AppState;

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Connects to the configured database with a pool of `connections` (naming the SQLite file in
/// use in the log) and applies migrations.
pub async fn connect_database(config: &Config, connections: u32) -> anyhow::Result<Db> {
    let url = config.database_url();
    if let Some(file) = config.sqlite_file() {
        tracing::info!(path = %file.display(), "SQLite database file");
    }
    let db = Db::connect(&url, connections)
        .await
        .with_context(|| format!("connecting to the database (setting `database_url` = {url})"))?;
    db.migrate().await.context("applying database migrations")?;
    Ok(db)
}

/// Connects to the database, applies migrations and, in development on an empty database,
/// loads the demo world.
pub async fn open_database(config: &Config) -> anyhow::Result<Db> {
    let db = connect_database(config, config.database_max_connections).await?;
    if config.demo_data_enabled() && !settle::account::User::any_exist(&db).await? {
        settle::demo::load(&db).await.context("loading demo data")?;
        tracing::info!("loaded the demo world (see README, \"Demo data\")");
    }
    Ok(db)
}

/// Builds the whole application: state and router.
pub async fn build(config: Config, db: Db) -> anyhow::Result<(Router, AppState)> {
    telemetry::metrics();
    let leptos_options = LeptosOptions::builder()
        .output_name("settle")
        .site_root("target/site")
        .site_addr(config.bind)
        .build();
    let payments = orchestrator(&config, &db).await?;
    // Card gateways' origins follow the gateways: the configuration watcher hands every reload
    // to the policy (`jobs::spawn_runner`).
    let csp = Arc::new(web::headers::ContentSecurityPolicy::new(
        config.frame_origins(),
        url::Url::parse(&config.sandbox_url()).ok(),
        &payments.gateway_connections(),
    ));
    let state = AppState {
        csp: csp.clone(),
        pages: PageContext {
            db: db.clone(),
            login_throttle: config.throttle_policy(),
            payments: payments.clone(),
        },
        payments,
        db: db.clone(),
        config: Arc::new(config),
        leptos_options,
        idempotency_secret: Arc::new(
            settle::secret::server_key(&db, "idempotency")
                .await
                .context("loading the idempotency key")?,
        ),
    };
    let session_store = DbSessionStore::new(&db).await.context("creating the session table")?;
    spawn_housekeeping(state.clone(), session_store.clone());

    let sessions = SessionManagerLayer::new(session_store)
        .with_name("settle_session")
        .with_secure(state.config.secure_cookies())
        .with_http_only(true)
        .with_same_site(SameSite::Lax)
        .with_expiry(Expiry::OnInactivity(time::Duration::minutes(
            state.config.session_idle_minutes,
        )));

    let pages_context = state.pages.clone();
    let provide = move || {
        provide_context(pages_context.clone());
        web::headers::provide_nonce_to_leptos();
    };
    let render_options = state.leptos_options.clone();
    let not_found_page = leptos_axum::render_app_async_with_context(provide.clone(), {
        let options = render_options.clone();
        move || shell(options.clone())
    });
    // Unknown paths under /api are API calls: problem details, not the HTML 404 page.
    let not_found = move |request: Request| {
        let not_found_page = not_found_page.clone();
        async move {
            if api::fallback::is_api_path(request.uri().path()) {
                api::fallback::not_found().into_response()
            } else {
                not_found_page(request).await.into_response()
            }
        }
    };
    let web = Router::new()
        .merge(web::routes::router())
        .leptos_routes_with_context(&state, generate_route_list(App), provide, move || {
            shell(render_options.clone())
        })
        .fallback(not_found)
        .layer(from_fn(web::server_fns::error_status))
        .layer(from_fn(web::csrf::reject_cross_site))
        .layer(from_fn_with_state(state.clone(), web::guard::guard))
        .layer(sessions);

    let api = api::router(&state);

    let mut router = Router::new().merge(api).merge(static_files::router()).merge(web);
    if state.config.sandbox_enabled() {
        let sandbox = sandbox::Sandbox::from_config(&state.config, state.config.public_url());
        router = router.nest_service("/sandbox", sandbox::router(sandbox));
    }
    let router = router.method_not_allowed_fallback(api::fallback::method_not_allowed);
    let router = with_security_headers(router.with_state(state.clone()), &state.config, csp)
        .layer(from_fn_with_state(state.clone(), web::client_addr::client_addr))
        .layer(
            ServiceBuilder::new()
                .layer(SetRequestIdLayer::new(REQUEST_ID, MakeRequestUuid))
                .layer(
                    TraceLayer::new_for_http()
                        .make_span_with(|request: &Request| {
                            let id = request.headers().get(REQUEST_ID).and_then(|v| v.to_str().ok()).unwrap_or("-");
                            tracing::info_span!("request", id, method = %request.method(), path = %request.uri().path())
                        })
                        // `access_log` writes the one line per request.
                        .on_request(())
                        .on_response(())
                        .on_failure(())
                        .on_eos(()),
                )
                .layer(from_fn(telemetry::access_log))
                .layer(PropagateRequestIdLayer::new(REQUEST_ID))
                .layer(CatchPanicLayer::new())
                .layer(RequestBodyLimitLayer::new(1024 * 1024)),
        );
    Ok((router, state))
}

/// Headers every response carries unless a handler set its own: script only from here or with
/// the response's nonce, frames only from here and the card issuers' pages, nothing here framed
/// by another site, nothing stored by browsers or proxies, and HTTPS only in production.
fn with_security_headers(
    router: Router,
    config: &Config,
    csp: Arc<web::headers::ContentSecurityPolicy>,
) -> Router {
    let mut router =
        router.layer(from_fn_with_state(csp, web::headers::content_security_policy)).layer(
            SetResponseHeaderLayer::if_not_present(header::CACHE_CONTROL, web::headers::NO_STORE),
        );
    if config.mode == config::Mode::Production {
        router = router.layer(SetResponseHeaderLayer::if_not_present(
            header::STRICT_TRANSPORT_SECURITY,
            web::headers::HSTS,
        ));
    }
    router
        .layer(SetResponseHeaderLayer::if_not_present(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::REFERRER_POLICY,
            HeaderValue::from_static("same-origin"),
        ))
}

/// The payment orchestrator over the configured gateways; gateways without a base URL of their
/// own talk to the sandbox at `sandbox_url` (by default this server's own).
pub(crate) async fn orchestrator(
    config: &Config,
    db: &Db,
) -> anyhow::Result<settle::payment::Orchestrator> {
    use settle::connector::ConnectorSettings;
    use settle::payment::orchestrator::ReconcilePolicy;
    let public_url = url::Url::parse(&config.public_url()).context("setting `public_url`")?;
    let sandbox_url = url::Url::parse(&config.sandbox_url()).context("setting `sandbox_url`")?;
    let sandbox_signing_secret = config.sandbox_signing_secret().to_owned();
    let client = reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(5))
        .build()
        .context("building the HTTP client for gateways")?;
    let reconcile = ReconcilePolicy {
        schedule: config
            .reconcile_schedule_seconds
            .iter()
            .map(|s| Duration::from_secs(*s))
            .collect(),
        give_up_after: Duration::from_secs(config.reconcile_give_up_minutes * 60),
        ..ReconcilePolicy::default()
    };
    Ok(settle::payment::Orchestrator::from_database(
        db.clone(),
        ConnectorSettings { sandbox_url, sandbox_signing_secret, client },
        api::callbacks::urls(public_url),
        reconcile,
    )
    .await?)
}

/// Periodic clean-up of expired sessions, tokens, login attempts, idempotency keys and old
/// finished jobs: idempotent deletes that any instance may run, so they need no job lease.
fn spawn_housekeeping(state: AppState, sessions: DbSessionStore) {
    use tower_sessions::session_store::ExpiredDeletion;
    tokio::spawn(async move {
        let mut every = tokio::time::interval(Duration::from_secs(600));
        loop {
            every.tick().await;
            if let Err(e) = sessions.delete_expired().await {
                tracing::warn!(error = %e, "deleting expired sessions failed");
            }
            if let Err(e) = settle::api_token::prune_expired(&state.db).await {
                tracing::warn!(error = %e, "deleting expired tokens failed");
            }
            if let Err(e) =
                settle::account::throttle::prune(&state.db, &state.config.throttle_policy()).await
            {
                tracing::warn!(error = %e, "pruning login attempts failed");
            }
            if let Err(e) = settle::idempotency::prune(&state.db).await {
                tracing::warn!(error = %e, "pruning idempotency keys failed");
            }
            // Finished jobs keep their dedupe keys (webhooks, sweep windows) for 30 days.
            let month_ago = chrono::Utc::now() - chrono::Duration::days(30);
            if let Err(e) = settle::job::prune_finished(&state.db, month_ago).await {
                tracing::warn!(error = %e, "pruning finished jobs failed");
            }
        }
    });
}

/// A server listening and serving in the background (tests use this with port 0).
pub struct RunningServer {
    /// Where it listens.
    pub addr: SocketAddr,
    /// Its state (database, configuration).
    pub state: AppState,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
    jobs_stop: tokio::sync::watch::Sender<bool>,
    jobs: tokio::task::JoinHandle<()>,
}

impl RunningServer {
    /// Stops accepting connections, finishes requests in flight and closes the database.
    pub async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        let _ = (&mut self.task).await;
        let _ = self.jobs_stop.send(true);
        let _ = (&mut self.jobs).await;
        self.state.db.close().await;
    }
}

/// Opens the database, builds the app and serves it on `listener` until [`RunningServer::stop`].
pub async fn start(mut config: Config, listener: TcpListener) -> anyhow::Result<RunningServer> {
    // Bound to port 0 (tests), the address is known only now; links must carry the real one.
    let addr = listener.local_addr()?;
    config.bind = addr;
    let db = open_database(&config).await?;
    let (router, state) = build(config, db).await?;
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(
        axum::serve(listener, router.into_make_service_with_connect_info::<SocketAddr>())
            .with_graceful_shutdown(async move {
                let _ = rx.await;
            })
            .into_future(),
    );
    let (jobs_stop, jobs_stopped) = tokio::sync::watch::channel(false);
    let jobs =
        jobs::spawn_runner(&state.config, state.payments.clone(), state.csp.clone(), jobs_stopped);
    Ok(RunningServer { addr, state, shutdown: Some(tx), task, jobs_stop, jobs })
}

/// Serves until SIGTERM or Ctrl-C, then shuts down gracefully.
pub async fn serve(config: Config) -> anyhow::Result<()> {
    let bind = config.bind;
    let listener = TcpListener::bind(bind)
        .await
        .with_context(|| format!("listening on {bind} (setting `bind`)"))?;
    let server = start(config, listener).await?;
    tracing::info!(
        address = %server.addr,
        database = server.state.db.backend().name(),
        mode = ?server.state.config.mode,
        "Settle is serving {}",
        server.state.config.public_url()
    );
    shutdown_signal().await;
    tracing::info!("shutting down: finishing requests in flight");
    server.stop().await;
    Ok(())
}

/// Waits for SIGTERM or Ctrl-C.
pub(crate) async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            tracing::error!(error = %e, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
}
