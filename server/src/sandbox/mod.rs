//! The sandbox: simulated payment providers under `/sandbox/...`, speaking HTTP like the real
//! ones, so Settle's connectors are exercised for real. Mounted in the server by default in
//! development, off in production unless `sandbox = true`; or run on its own with
//! `settle-server sandbox` ([`standalone`]) and reached through the server's `sandbox_url`.
//!
//! Each provider keeps its state in memory (it is a simulator, not a ledger) and reaches Settle
//! only over HTTP: customers' browsers are redirected or post back, notifications are signed
//! and posted to the URL Settle gave. Faults (latency, errors, timeouts, dropped and duplicated
//! notifications) are injected per provider, deterministically from a seed.

pub mod apple_pay;
pub mod bank;
pub mod card_acquirer;
pub mod faults;
pub mod hosted_checkout;
mod html;
mod request;
pub mod standalone;

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::Router;
use axum::routing::get;
use serde::Serialize;

use self::faults::Faults;

/// State shared by the sandbox providers.
#[derive(Clone)]
pub struct Sandbox {
    /// Fault injection per provider.
    pub faults: Arc<Faults>,
    /// For posting notifications to Settle.
    pub client: reqwest::Client,
    /// The key notifications are signed with.
    pub signing_secret: String,
    /// The public URL of the process serving the sandbox (Settle's own, or the standalone
    /// sandbox's), without a trailing slash; hosted pages live at `{public_url}/sandbox/...`.
    pub public_url: String,
}

impl Sandbox {
    /// A sandbox signing with `signing_secret`.
    pub fn new(signing_secret: impl Into<String>, public_url: impl Into<String>) -> Sandbox {
        Sandbox {
            faults: Arc::new(Faults::default()),
            client: reqwest::Client::builder()
                .timeout(Duration::from_secs(10))
                .build()
                .unwrap_or_else(|_| reqwest::Client::new()),
            signing_secret: signing_secret.into(),
            public_url: public_url.into(),
        }
    }

    /// The sandbox a configuration describes: signing with `sandbox_signing_secret`, starting
    /// with `sandbox_faults`, its pages under `{public_url}/sandbox`.
    pub fn from_config(config: &crate::config::Config, public_url: impl Into<String>) -> Sandbox {
        let sandbox = Sandbox::new(config.sandbox_signing_secret(), public_url);
        for (provider, faults) in &config.sandbox_faults {
            sandbox.faults.set(provider, faults.clone());
        }
        sandbox
    }

    /// Posts a signed notification to `url` in the background, as the provider's fault plan
    /// says: maybe not at all (dropped), maybe twice (duplicated).
    pub fn notify<T: Serialize>(&self, provider: &str, url: &str, body: &T) {
        let plan = self.faults.notification_plan(provider);
        if plan.drop {
            tracing::info!(provider, url, "sandbox: dropping notification (fault injection)");
            return;
        }
        let body = match serde_json::to_vec(body) {
            Ok(body) => body,
            Err(e) => {
                tracing::error!(error = %e, "sandbox: notification body does not serialize");
                return;
            }
        };
        let copies = if plan.duplicate { 2 } else { 1 };
        let (client, secret, url) =
            (self.client.clone(), self.signing_secret.clone(), url.to_owned());
        tokio::spawn(async move {
            for _ in 0..copies {
                let signature =
                    settle::connector::signature::sign(&secret, &body, chrono::Utc::now());
                let sent = client
                    .post(&url)
                    .header("content-type", "application/json")
                    .header(settle::connector::signature::HEADER, signature)
                    .body(body.clone())
                    .send()
                    .await;
                if let Err(e) = sent {
                    tracing::warn!(error = %e, %url, "sandbox: notification not delivered");
                }
            }
        });
    }
}

/// Locks a provider's in-memory state. A panic while it was held leaves at worst one
/// half-recorded simulated object: the simulator keeps serving with what is there rather than
/// failing every later request.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// A provider's id for something it made: a readable prefix and 128 random bits (`tok_…`).
/// The last four digits of the card a demo token (`demo-…-4242`) stands for: its last four
/// characters when they are digits, else `4242`. `None` for a token without the `demo-` prefix.
fn demo_token_last4(token: &str) -> Option<String> {
    let rest = token.strip_prefix(hosted_checkout::DEMO_TOKEN_PREFIX)?;
    let tail = rest.get(rest.len().saturating_sub(4)..).unwrap_or_default();
    Some(if tail.len() == 4 && tail.bytes().all(|b| b.is_ascii_digit()) {
        tail.to_owned()
    } else {
        "4242".to_owned()
    })
}

fn new_id(prefix: &str) -> String {
    format!("{prefix}_{}", uuid::Uuid::new_v4().simple())
}

/// The sandbox routes, to be nested under `/sandbox`.
pub fn router(sandbox: Sandbox) -> Router {
    Router::new()
        .route("/faults", get(faults::list))
        .route("/faults/{provider}", get(faults::show).put(faults::set).delete(faults::reset))
        .nest("/hosted-checkout", hosted_checkout::router(sandbox.clone()))
        .nest("/apple-pay", apple_pay::router(sandbox.clone()))
        .nest("/card", card_acquirer::router(sandbox.clone()))
        .nest("/bank", bank::router(sandbox.clone()))
        .with_state(sandbox)
}
