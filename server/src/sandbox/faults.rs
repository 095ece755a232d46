//! Fault injection per sandbox provider: added latency, error rate, timeouts, dropped and
//! duplicated notifications. Decisions come from a seeded RNG per provider, so a test that sets a
//! seed gets the same sequence of faults every run.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
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

    /// Applies latency and decides this request's fault. Call at the start of every handler.
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
        // A panic while holding this lock can only leave fault settings half-written, which is
        // harmless for a simulator: keep going with what is there.
        self.providers.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
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
    async fn providers_without_faults_are_left_alone() {
        let faults = Faults::default();
        assert_eq!(faults.before_request("bank").await, RequestFault::None);
        assert_eq!(faults.notification_plan("bank"), NotificationPlan::default());
    }
}
