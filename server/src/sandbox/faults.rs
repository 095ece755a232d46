//! Fault injection per sandbox provider: added latency, error rate, timeouts, dropped and
//! duplicated notifications. Decisions come from a seeded RNG per provider, so a test that sets a
//! seed gets the same sequence of faults every run.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Json;
use axum::extract::{Path, Request, State};
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::MethodRouter;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};

use super::Sandbox;

/// The faults of one provider. Rates are probabilities from 0 to 1.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FaultConfig {
    /// Added to every request before it is handled.
    pub latency_ms: u64,
    /// Share of requests answered `503` before anything happens.
    pub error_rate: f64,
    /// Share of requests that are carried out but answered only after `hang_ms` (the client
    /// times out not knowing money moved).
    pub timeout_rate: f64,
    /// How long a timed-out request hangs (default 30 s).
    pub hang_ms: Option<u64>,
    /// Share of notifications never sent.
    pub drop_notification_rate: f64,
    /// Share of notifications sent twice.
    pub duplicate_notification_rate: f64,
    /// Seed for the fault decisions (default 0).
    pub seed: Option<u64>,
}

impl FaultConfig {
    /// Checks the rates are probabilities.
    pub fn validate(&self) -> Result<(), String> {
        for (name, rate) in [
            ("error_rate", self.error_rate),
            ("timeout_rate", self.timeout_rate),
            ("drop_notification_rate", self.drop_notification_rate),
            ("duplicate_notification_rate", self.duplicate_notification_rate),
        ] {
            if !(0.0..=1.0).contains(&rate) {
                return Err(format!("{name} must be between 0 and 1"));
            }
        }
        Ok(())
    }
}

struct ProviderFaults {
    config: FaultConfig,
    rng: StdRng,
}

/// What to do to one request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RequestFault {
    /// Handle it normally.
    None,
    /// Answer 503 without doing anything.
    Unavailable,
    /// Do the work, then hang this long before answering.
    Hang(Duration),
}

/// What to do to one notification.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NotificationPlan {
    /// Don't send it.
    pub drop: bool,
    /// Send it twice.
    pub duplicate: bool,
}

/// Fault settings and RNGs of every provider.
#[derive(Default)]
pub struct Faults {
    providers: Mutex<HashMap<String, ProviderFaults>>,
}

impl Faults {
    /// Sets a provider's faults and restarts its RNG from the seed.
    pub fn set(&self, provider: &str, config: FaultConfig) {
        let rng = StdRng::seed_from_u64(config.seed.unwrap_or(0));
        self.lock().insert(provider.to_owned(), ProviderFaults { config, rng });
    }

    /// A provider's faults (none if never set).
    pub fn get(&self, provider: &str) -> FaultConfig {
        self.lock().get(provider).map(|p| p.config.clone()).unwrap_or_default()
    }

    /// Every provider's faults.
    pub fn all(&self) -> HashMap<String, FaultConfig> {
        self.lock().iter().map(|(k, v)| (k.clone(), v.config.clone())).collect()
    }

    /// Applies latency and decides this request's fault; [`Gate::guard`] calls it before every
    /// handler subject to faults.
    pub async fn before_request(&self, provider: &str) -> RequestFault {
        let (latency, fault) = {
            let mut providers = self.lock();
            let Some(p) = providers.get_mut(provider) else {
                return RequestFault::None;
            };
            let roll: f64 = p.rng.r#gen();
            let fault = if roll < p.config.error_rate {
                RequestFault::Unavailable
            } else if roll < p.config.error_rate + p.config.timeout_rate {
                RequestFault::Hang(Duration::from_millis(p.config.hang_ms.unwrap_or(30_000)))
            } else {
                RequestFault::None
            };
            (Duration::from_millis(p.config.latency_ms), fault)
        };
        if !latency.is_zero() {
            tokio::time::sleep(latency).await;
        }
        fault
    }

    /// Decides whether the next notification is dropped or duplicated.
    pub fn notification_plan(&self, provider: &str) -> NotificationPlan {
        let mut providers = self.lock();
        let Some(p) = providers.get_mut(provider) else {
            return NotificationPlan::default();
        };
        let drop = p.rng.r#gen::<f64>() < p.config.drop_notification_rate;
        let duplicate = p.rng.r#gen::<f64>() < p.config.duplicate_notification_rate;
        NotificationPlan { drop, duplicate }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, ProviderFaults>> {
        super::lock(&self.providers)
    }
}

/// A provider's fault gate: what makes its endpoints subject to its faults. Applied per route
/// (not to a whole router) so that only the endpoints given to [`Gate::guard`] are, and a
/// request no endpoint takes (an unknown method, say) never meets a fault.
#[derive(Clone)]
pub(super) struct Gate {
    faults: Arc<Faults>,
    provider: &'static str,
}

impl Gate {
    /// The gate of `provider`'s faults.
    pub(super) fn new(faults: &Arc<Faults>, provider: &'static str) -> Gate {
        Gate { faults: Arc::clone(faults), provider }
    }

    /// `route` subject to the faults: latency and the fault decision come before its handler;
    /// `Unavailable` answers 503 instead of it, `Hang` holds back the answer it gave.
    pub(super) fn guard<S>(&self, route: MethodRouter<S>) -> MethodRouter<S>
    where
        S: Clone + Send + Sync + 'static,
    {
        route.route_layer(middleware::from_fn_with_state(self.clone(), gate))
    }
}

/// The middleware of [`Gate::guard`].
async fn gate(State(gate): State<Gate>, request: Request, next: Next) -> Response {
    let fault = gate.faults.before_request(gate.provider).await;
    if fault == RequestFault::Unavailable {
        return unavailable();
    }
    answer_after(fault, next.run(request).await).await
}

/// Put on a response by a handler that wants its answer late whatever the faults (the card
/// acquirer's timeout test card): it goes out after this long or after the fault's hang,
/// whichever is longer.
#[derive(Clone, Copy, Debug)]
pub(super) struct LateAnswer(pub(super) Duration);

/// Answers after the fault's hang and any [`LateAnswer`] the response asks for: the work is
/// already done, only the answer is late.
async fn answer_after(fault: RequestFault, mut response: Response) -> Response {
    let fault_hang = match fault {
        RequestFault::Hang(d) => d,
        RequestFault::None | RequestFault::Unavailable => Duration::ZERO,
    };
    let late = response.extensions_mut().remove::<LateAnswer>().map_or(Duration::ZERO, |l| l.0);
    let wait = fault_hang.max(late);
    if !wait.is_zero() {
        tokio::time::sleep(wait).await;
    }
    response
}

/// The 503 a provider answers with when fault injection says so.
pub fn unavailable() -> Response {
    (
        StatusCode::SERVICE_UNAVAILABLE,
        Json(serde_json::json!({ "error": "sandbox fault: unavailable" })),
    )
        .into_response()
}

/// `GET /sandbox/faults`
pub async fn list(State(sandbox): State<Sandbox>) -> Json<HashMap<String, FaultConfig>> {
    Json(sandbox.faults.all())
}

/// `GET /sandbox/faults/{provider}`
pub async fn show(
    State(sandbox): State<Sandbox>,
    Path(provider): Path<String>,
) -> Json<FaultConfig> {
    Json(sandbox.faults.get(&provider))
}

/// `PUT /sandbox/faults/{provider}` with a [`FaultConfig`] body.
pub async fn set(
    State(sandbox): State<Sandbox>,
    Path(provider): Path<String>,
    Json(config): Json<FaultConfig>,
) -> Response {
    if let Err(problem) = config.validate() {
        return (StatusCode::UNPROCESSABLE_ENTITY, Json(serde_json::json!({ "error": problem })))
            .into_response();
    }
    sandbox.faults.set(&provider, config.clone());
    Json(config).into_response()
}

/// `DELETE /sandbox/faults/{provider}`: back to no faults.
pub async fn reset(State(sandbox): State<Sandbox>, Path(provider): Path<String>) -> StatusCode {
    sandbox.faults.set(&provider, FaultConfig::default());
    StatusCode::NO_CONTENT
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_same_seed_gives_the_same_faults() {
        let config = FaultConfig {
            error_rate: 0.3,
            timeout_rate: 0.2,
            hang_ms: Some(1),
            drop_notification_rate: 0.5,
            seed: Some(7),
            ..Default::default()
        };
        let run = || async {
            let faults = Faults::default();
            faults.set("card", config.clone());
            let mut seen = Vec::new();
            for _ in 0..50 {
                seen.push(format!("{:?}", faults.before_request("card").await));
                seen.push(format!("{:?}", faults.notification_plan("card")));
            }
            seen
        };
        let first = run().await;
        assert_eq!(first, run().await);
        assert!(
            first.iter().any(|s| s.contains("Unavailable"))
                && first.iter().any(|s| s.contains("drop: true"))
        );
    }

    #[tokio::test]
    async fn the_gate_acts_only_on_guarded_endpoints() {
        use std::sync::atomic::{AtomicUsize, Ordering};

        use axum::Router;
        use axum::body::Body;
        use axum::routing::get;
        use tower::ServiceExt;

        let faults = Arc::new(Faults::default());
        let handled = Arc::new(AtomicUsize::new(0));
        let handler = |late: Option<Duration>| {
            let handled = Arc::clone(&handled);
            move || async move {
                handled.fetch_add(1, Ordering::SeqCst);
                let mut response = "done".into_response();
                if let Some(late) = late {
                    response.extensions_mut().insert(LateAnswer(late));
                }
                response
            }
        };
        let gate = Gate::new(&faults, "p");
        let app = Router::new()
            .route("/guarded", gate.guard(get(handler(None))))
            .route("/late", gate.guard(get(handler(Some(Duration::from_millis(400))))))
            .route("/free", get(handler(None)));
        let call = |method: &str, path: &str| {
            let request = Request::builder().method(method).uri(path).body(Body::empty());
            let app = app.clone();
            async move {
                let started = tokio::time::Instant::now();
                let response = app.oneshot(request.unwrap_or_default()).await;
                let status = response.map(|r| r.status()).unwrap_or(StatusCode::IM_A_TEAPOT);
                (status, started.elapsed())
            }
        };

        faults.set("p", FaultConfig { error_rate: 1.0, ..Default::default() });
        assert_eq!(call("GET", "/guarded").await.0, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(handled.load(Ordering::SeqCst), 0, "a 503 comes before the handler");
        assert_eq!(call("POST", "/guarded").await.0, StatusCode::METHOD_NOT_ALLOWED);
        assert_eq!(call("GET", "/free").await.0, StatusCode::OK);
        assert_eq!(handled.load(Ordering::SeqCst), 1);

        let hang = FaultConfig { timeout_rate: 1.0, hang_ms: Some(200), ..Default::default() };
        faults.set("p", hang);
        let (status, took) = call("GET", "/guarded").await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(handled.load(Ordering::SeqCst), 2, "a hang comes after the handler");
        assert!(took >= Duration::from_millis(200), "{took:?}");
        let (status, took) = call("GET", "/late").await;
        assert_eq!(status, StatusCode::OK);
        assert!(
            took >= Duration::from_millis(400) && took < Duration::from_millis(600),
            "the later of the two, not their sum: {took:?}"
        );
    }

    #[tokio::test]
    async fn providers_without_faults_are_left_alone() {
        let faults = Faults::default();
        assert_eq!(faults.before_request("bank").await, RequestFault::None);
        assert_eq!(faults.notification_plan("bank"), NotificationPlan::default());
    }
}
