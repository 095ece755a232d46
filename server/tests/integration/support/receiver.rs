//! A merchant's webhook receiver on 127.0.0.1:0: records every delivery with its headers,
//! answers as the test scripts it (a status and body, or no answer at all), and checks
//! signatures with the `standardwebhooks` crate, as a merchant would.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde_json::Value;

/// How the receiver answers one delivery.
#[derive(Clone, Debug)]
pub enum Reply {
    /// This status and body.
    Status(u16, &'static str),
    /// Nothing: holds the request open for a minute (longer than the server waits).
    Hang,
}

/// One delivery as it arrived.
#[derive(Clone, Debug)]
pub struct Delivered {
    pub headers: reqwest::header::HeaderMap,
    pub body: Vec<u8>,
}

impl Delivered {
    /// The body as JSON.
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }

    /// The `type`.
    pub fn kind(&self) -> String {
        self.json()["type"].as_str().unwrap_or_default().to_owned()
    }

    /// A header's value.
    pub fn header(&self, name: &str) -> Option<String> {
        self.headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_owned)
    }

    /// Checks the Standard Webhooks signature with `secret`, as a merchant's verifier does.
    pub fn verify(&self, secret: &str) -> Result<()> {
        let webhook = standardwebhooks::Webhook::new(secret)
            .map_err(|e| anyhow::anyhow!("bad secret {secret}: {e}"))?;
        webhook
            .verify(&self.body, &self.headers)
            .map_err(|e| anyhow::anyhow!("signature does not verify ({e}): {:?}", self.headers))
    }
}

#[derive(Default)]
struct Inner {
    received: Vec<Delivered>,
    script: VecDeque<Reply>,
    /// Failures (500) each message id gets before it is answered 200.
    fail_first: usize,
    seen: HashMap<String, usize>,
}

/// The receiver.
pub struct Receiver {
    pub base: String,
    inner: Arc<Mutex<Inner>>,
    task: tokio::task::JoinHandle<()>,
}

impl Receiver {
    /// A receiver that answers 200 `ok` unless scripted otherwise.
    pub async fn start() -> Result<Receiver> {
        let inner = Arc::new(Mutex::new(Inner::default()));
        let router =
            axum::Router::new().fallback(axum::routing::post(receive)).with_state(inner.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let base = format!("http://{}", listener.local_addr()?);
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, router).await;
        });
        Ok(Receiver { base, inner, task })
    }

    /// Where the merchant's endpoint is.
    pub fn url(&self) -> String {
        format!("{}/webhooks", self.base)
    }

    /// The next deliveries (in arrival order) are answered so; later ones 200.
    pub fn script(&self, replies: &[Reply]) {
        self.lock().script.extend(replies.iter().cloned());
    }

    /// Each message id is answered 500 `not yet` `n` times, then 200.
    pub fn fail_first(&self, n: usize) {
        self.lock().fail_first = n;
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Everything received so far.
    pub fn received(&self) -> Vec<Delivered> {
        self.lock().received.clone()
    }

    /// Waits (at most `within`) until `check` holds for what was received; returns it.
    pub async fn wait_until(
        &self,
        what: &str,
        within: Duration,
        check: impl Fn(&[Delivered]) -> bool,
    ) -> Result<Vec<Delivered>> {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let received = self.received();
            if check(&received) {
                return Ok(received);
            }
            if tokio::time::Instant::now() >= deadline {
                let kinds: Vec<_> = received.iter().map(Delivered::kind).collect();
                bail!("waited {within:?} for {what}; received {kinds:?}");
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    /// Waits until a delivery of `kind` arrived; the first.
    pub async fn wait_for_kind(&self, kind: &str, within: Duration) -> Result<Delivered> {
        let received =
            self.wait_until(kind, within, |r| r.iter().any(|d| d.kind() == kind)).await?;
        received.into_iter().find(|d| d.kind() == kind).context("found above")
    }
}

async fn receive(State(inner): State<Arc<Mutex<Inner>>>, request: Request) -> impl IntoResponse {
    let (parts, body) = request.into_parts();
    let body =
        axum::body::to_bytes(body, 1024 * 1024).await.map(|b| b.to_vec()).unwrap_or_default();
    let reply = {
        let mut inner = inner.lock().unwrap_or_else(|e| e.into_inner());
        let id =
            parts.headers.get("webhook-id").and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
        inner.received.push(Delivered { headers: parts.headers.clone(), body });
        let seen = {
            let n = inner.seen.entry(id).or_default();
            *n += 1;
            *n
        };
        match inner.script.pop_front() {
            Some(reply) => reply,
            None if seen <= inner.fail_first => Reply::Status(500, "not yet"),
            None => Reply::Status(200, "ok"),
        }
    };
    match reply {
        Reply::Status(code, text) => {
            (StatusCode::from_u16(code).unwrap_or(StatusCode::OK), text).into_response()
        }
        Reply::Hang => {
            tokio::time::sleep(Duration::from_secs(60)).await;
            (StatusCode::OK, "too late").into_response()
        }
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl crate::support::TestApp {
    /// `PUT /api/webhook-endpoint` with a merchant's token: the endpoint at `url`, for `events`
    /// (all when `None`).
    pub async fn set_webhook_endpoint(
        &self,
        token: &str,
        url: &str,
        events: Option<&[&str]>,
    ) -> Result<crate::api_client::Answer> {
        let mut body = serde_json::json!({ "url": url });
        if let Some(events) = events {
            body["event_types"] = serde_json::json!(events);
        }
        self.call(reqwest::Method::PUT, "/api/webhook-endpoint", Some(token), Some(&body), None)
            .await
    }

    /// The merchant's delivery log (`GET /api/webhook-endpoint/deliveries`), oldest first.
    pub async fn webhook_deliveries(&self, token: &str) -> Result<Vec<Value>> {
        let answer = self
            .call(reqwest::Method::GET, "/api/webhook-endpoint/deliveries", Some(token), None, None)
            .await?;
        crate::support::ensure(answer.status == 200, format!("deliveries: {answer:?}"))?;
        let mut attempts = answer.body.as_array().cloned().unwrap_or_default();
        attempts.reverse();
        Ok(attempts)
    }
}
