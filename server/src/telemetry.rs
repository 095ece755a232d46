//! Logging and metrics: `tracing` to stderr, with the request id on every line of a request;
//! one access-log line and the HTTP series per request; the process's Prometheus recorder,
//! which `/metrics` renders.

use std::sync::OnceLock;
use std::time::{Duration, Instant};

use axum::extract::{MatchedPath, Request};
use axum::http::Method;
use axum::middleware::Next;
use axum::response::Response;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt;

use crate::config::{Config, LogFormat};

/// Requests answered, by `method`, `route` (the matched route, `unmatched` for none) and
/// `status`.
pub const HTTP_REQUESTS: &str = "settle_http_requests_total";
/// Seconds until each request's response head was ready, labelled like [`HTTP_REQUESTS`].
pub const HTTP_DURATION: &str = "settle_http_request_duration_seconds";

/// Upper bounds of the latency histograms' buckets (requests and gateway calls), in seconds.
const LATENCY_BUCKETS: &[f64] =
    &[0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0];

/// How often histogram samples are folded into their buckets between scrapes.
const UPKEEP_EVERY: Duration = Duration::from_secs(5);

/// Installs the global subscriber (once; later calls, as in tests, are no-ops).
pub fn init(config: &Config) {
    let filter = EnvFilter::try_from_default_env()
        .or_else(|_| EnvFilter::try_new(&config.log))
        .unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = fmt().with_env_filter(filter).with_writer(std::io::stderr);
    let _ = match config.log_format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
    };
}

/// The process's Prometheus recorder, installed on first use. A process has one recorder, and
/// tests start many servers in one process: they all share it (and its counts).
pub fn metrics() -> &'static PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE.get_or_init(|| {
        let time_to_final = Matcher::Full(settle::telemetry::TIME_TO_FINAL.to_owned());
        let recorder = PrometheusBuilder::new()
            .set_buckets(LATENCY_BUCKETS)
            .and_then(|b| {
                b.set_buckets_for_metric(time_to_final, settle::telemetry::TIME_TO_FINAL_BUCKETS)
            })
            .map(PrometheusBuilder::build_recorder)
            .unwrap_or_else(|e| {
                tracing::warn!(error = %e, "metrics buckets refused; histograms become summaries");
                PrometheusBuilder::new().build_recorder()
            });
        let handle = recorder.handle();
        if let Err(e) = metrics::set_global_recorder(recorder) {
            tracing::warn!(error = %e, "another metrics recorder is installed; /metrics stays empty");
        }
        settle::telemetry::describe();
        describe_http();
        let upkeep = handle.clone();
        let _ = std::thread::Builder::new().name("metrics-upkeep".into()).spawn(move || {
            loop {
                std::thread::sleep(UPKEEP_EVERY);
                upkeep.run_upkeep();
            }
        });
        handle
    })
}

fn describe_http() {
    use metrics::{Unit, describe_counter, describe_histogram};
    describe_counter!(HTTP_REQUESTS, "Requests answered, by method, route and status");
    describe_histogram!(HTTP_DURATION, Unit::Seconds, "Time to each response's head");
}

/// Logs one line per request when its response is ready (method, route, status, duration,
/// request id) and counts it in the HTTP series. The route is the matched route pattern, never
/// the raw path, so the series stay few whatever clients send.
pub async fn access_log(request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = method_label(request.method());
    let route = match request.extensions().get::<MatchedPath>() {
        Some(path) => path.as_str().to_owned(),
        // The sandbox is mounted as a service of its own, whose routes this layer can't see.
        None if request.uri().path().starts_with("/sandbox/") => "/sandbox/{*path}".to_owned(),
        None => "unmatched".to_owned(),
    };
    let request_id = request
        .headers()
        .get(crate::REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("-")
        .to_owned();
    let response = next.run(request).await;
    let took = started.elapsed();
    let status = response.status().as_u16();
    tracing::info!(
        method,
        route = route.as_str(),
        status,
        duration_ms = took.as_millis() as u64,
        request_id,
        "request"
    );
    let labels = [("method", method.to_owned()), ("route", route), ("status", status.to_string())];
    metrics::counter!(HTTP_REQUESTS, &labels).increment(1);
    metrics::histogram!(HTTP_DURATION, &labels).record(took.as_secs_f64());
    response
}

/// The method as a label: the standard ones by name, anything else as `OTHER` (a client may send
/// any token as a method).
fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        _ => "OTHER",
    }
}
