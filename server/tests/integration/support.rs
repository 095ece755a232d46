//! The test harness: a real server on port 0 against a fresh database per test, on each backend.
//! Tests that need more than one server, other settings, or the server as a child process
//! ([`process`]) get the fresh database instead and start what they need.

// The fresh databases are made by the core's test harness: one place for both.
mod admin_actions;
pub mod admin_payments;
#[path = "../../../tests/support/mod.rs"]
mod fresh;
mod gateway_pages;
mod operator;
pub mod operator_console;
pub mod ops;
mod orders_api;
pub mod process;
pub mod receiver;
pub mod statements;
mod world;

use std::future::Future;
use std::pin::Pin;

use anyhow::{Context, Result, bail};
use figment::Figment;
use figment::providers::Serialized;
use reqwest::header::{ACCEPT, HeaderMap, HeaderValue, ORIGIN, REFERER};
use reqwest::{Client, Response, redirect};
use settle::Db;
use settle_server::RunningServer;
use settle_server::config::Config;

/// A test body: gets a running app, returns Ok if every step held.
pub type TestFn = fn(TestApp) -> Pin<Box<dyn Future<Output = Result<()>> + Send>>;

/// A test body that gets only a fresh, empty database and starts its own servers.
pub type DatabaseTestFn = fn(TestDatabase) -> Pin<Box<dyn Future<Output = Result<()>> + Send>>;

/// A fresh database for one test (created before, dropped after it).
#[derive(Clone, Debug)]
pub struct TestDatabase {
    pub backend: Backend,
    /// The `sqlite:` or `postgres:` URL.
    pub url: String,
}

/// Which database a test runs on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// A running Settle with a browser-like client (cookies kept, redirects not followed).
pub struct TestApp {
    pub base: String,
    pub client: Client,
    pub db: Db,
    pub backend: Backend,
    pub state: settle_server::state::AppState,
}

impl TestApp {
    /// A second, independent browser (own cookie jar).
    pub fn new_client(&self) -> Client {
        browser()
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    pub async fn get(&self, path: &str) -> Result<Response> {
        Ok(self.client.get(self.url(path)).header(ACCEPT, "text/html").send().await?)
    }

    /// Posts a form the way a browser does from one of our pages (same origin, Referer set).
    pub async fn post_form(&self, path: &str, form: &[(&str, &str)]) -> Result<Response> {
        self.post_form_with(&self.client, path, form).await
    }

    pub async fn post_form_with(
        &self,
        client: &Client,
        path: &str,
        form: &[(&str, &str)],
    ) -> Result<Response> {
        Ok(client
            .post(self.url(path))
            .headers(self.same_origin_headers(path))
            .form(form)
            .send()
            .await?)
    }

    pub fn same_origin_headers(&self, path: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(ACCEPT, HeaderValue::from_static("text/html"));
        h.insert(ORIGIN, HeaderValue::from_str(&self.base).expect("base URL is a header value"));
        h.insert(REFERER, HeaderValue::from_str(&self.url(path)).expect("URL is a header value"));
        h.insert("sec-fetch-site", HeaderValue::from_static("same-origin"));
        h
    }

    /// Posts `body` as a script would (same origin, no `Referer`, `Accept: application/json`),
    /// or as a form without script when `as_form_page` names the page it was posted from.
    pub async fn post_raw(
        &self,
        client: &Client,
        path: &str,
        content_type: &str,
        body: impl Into<reqwest::Body>,
        as_form_page: Option<&str>,
    ) -> Result<Response> {
        let mut headers = match as_form_page {
            Some(page) => self.same_origin_headers(page),
            None => {
                let mut h = self.same_origin_headers(path);
                h.remove(REFERER);
                h.insert(ACCEPT, HeaderValue::from_static("application/json"));
                h
            }
        };
        headers.insert(reqwest::header::CONTENT_TYPE, HeaderValue::from_str(content_type)?);
        Ok(client.post(self.url(path)).headers(headers).body(body).send().await?)
    }

    /// A second server on this test's database, configured like the first plus `toml` (e.g.
    /// `mode = 'production'`): for settings read at start. Stop it with `.stop().await`.
    pub async fn another_server(&self, toml: &str) -> Result<RunningServer> {
        let config = Config::from_figment(
            Figment::from(Serialized::defaults((*self.state.config).clone()))
                .merge(<figment::providers::Toml as figment::providers::Format>::string(toml)),
        )?;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        settle_server::start(config, listener).await
    }

    /// Logs in through the login form and checks it landed on `expect_home`.
    pub async fn log_in(&self, email: &str, password: &str, expect_home: &str) -> Result<()> {
        let response =
            self.post_form("/api/auth/login", &[("email", email), ("password", password)]).await?;
        let location = location(&response);
        if response.status() != 302 || location != expect_home {
            bail!(
                "login as {email} answered {} -> {location:?}, expected 302 -> {expect_home}",
                response.status()
            );
        }
        Ok(())
    }

    /// Logs in through the login form with `next` (as the login page posts it after a
    /// protected page sent the browser there) and checks it went on to `next`.
    pub async fn log_in_then(&self, email: &str, password: &str, next: &str) -> Result<()> {
        let form = [("email", email), ("password", password), ("next", next)];
        let response = self.post_form("/api/auth/login", &form).await?;
        let location = location(&response);
        if location != next {
            bail!(
                "login as {email} answered {} -> {location:?}, expected {next}",
                response.status()
            );
        }
        Ok(())
    }
}

/// A short-term motor quote of `days` days for `customer` under policy number `number`, with the
/// policy address seed 003's flows bill by default. Returns the quote's service.
pub async fn short_term_quote(
    db: &Db,
    customer: &settle::customer::CustomerId,
    number: &str,
    days: i64,
) -> Result<settle::service::Service> {
    use settle::product::Product;
    use settle::purchase::{LineType, NewLine, Purchase, PurchaseStatus};
    use settle::service::{BillingStatus, Service};
    let product = Product::list(db)
        .await?
        .into_iter()
        .find(|p| p.code == "SHORT-MOTOR")
        .context("the short-term motor product")?;
    let mut quote =
        Service::new(number, &product, customer.clone(), "quoted", BillingStatus::Unbilled);
    quote.details.policy_address = Some(settle::address::Address {
        house: Some("21b".into()),
        street: Some("Tuesday Market Place".into()),
        postcode: Some("PE301JW".into()),
        ..Default::default()
    });
    quote.insert(db).await?;
    let line = NewLine {
        line_type: LineType::Day,
        description: format!("Short-term motor cover, {days} days"),
        quantity: days,
        unit_price: product.unit_price,
        period_per_quantity: 1,
        tax_rate: product.tax_rate,
    };
    Purchase::create(db, &quote.id, PurchaseStatus::Open, chrono::Utc::now(), vec![line]).await?;
    Ok(quote)
}

/// Waits (bounded) until `check` holds, polling every 50 ms.
pub async fn eventually<F, Fut>(
    what: &str,
    timeout: std::time::Duration,
    mut check: F,
) -> Result<()>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<bool>>,
{
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        if check().await? {
            return Ok(());
        }
        if tokio::time::Instant::now() >= deadline {
            bail!("timed out waiting until {what}");
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

/// A client that behaves like a browser for our purposes.
pub fn browser() -> Client {
    Client::builder()
        .cookie_store(true)
        .redirect(redirect::Policy::none())
        // A request that never answers names its URL in the test's failure.
        .timeout(std::time::Duration::from_secs(60))
        .build()
        .expect("the HTTP client builds")
}

/// The `Content-Type` header of a response, or "".
pub fn content_type(response: &Response) -> String {
    response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned()
}

/// The `Location` header of a response, or "".
pub fn location(response: &Response) -> String {
    response.headers().get("location").and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned()
}

/// Fails with `what` unless `cond` holds.
pub fn ensure(cond: bool, what: impl std::fmt::Display) -> Result<()> {
    if cond { Ok(()) } else { bail!("{what}") }
}

/// Runs every test on SQLite and, if configured, PostgreSQL: `tests` against a running app,
/// `database_tests` against a fresh database only.
pub fn run(tests: &[(&'static str, TestFn)], database_tests: &[(&'static str, DatabaseTestFn)]) {
    let args = libtest_mimic::Arguments::from_args();
    let postgres = std::env::var("SETTLE_TEST_POSTGRES_URL").ok().filter(|u| !u.trim().is_empty());
    if postgres.is_none() {
        println!(
            "note: SETTLE_TEST_POSTGRES_URL is not set, so the PostgreSQL runs of these tests are skipped"
        );
    }
    if std::env::var("SETTLE_TEST_LOG").is_err() && !statements::install() {
        println!("note: another tracing subscriber is installed, so statements can't be recorded");
    }
    let mut backends = vec![(Backend::Sqlite, "sqlite", None)];
    if let Some(url) = postgres {
        backends.push((Backend::Postgres, "postgres", Some(url)));
    }
    let bodies = tests
        .iter()
        .map(|&(name, test)| (name, Body::App(test)))
        .chain(database_tests.iter().map(|&(name, test)| (name, Body::Database(test))));
    let mut trials = Vec::new();
    for (name, body) in bodies {
        for (backend, prefix, url) in &backends {
            let (backend, url) = (*backend, url.clone());
            let alone = name.starts_with(ALONE);
            trials.push(libtest_mimic::Trial::test(format!("{prefix}::{name}"), move || {
                // Tests that record the process's statements run alone; the rest side by side.
                let _turn = if alone {
                    Turn::Alone(RUNNING.write().unwrap_or_else(|e| e.into_inner()))
                } else {
                    Turn::Shared(RUNNING.read().unwrap_or_else(|e| e.into_inner()))
                };
                run_one(backend, url.as_deref(), body).map_err(|e| format!("{e:#}").into())
            }));
        }
    }
    libtest_mimic::run(&args, trials).exit();
}

/// Tests in this module record every statement the process runs (see [`statements`]), so no
/// other test may run beside them.
const ALONE: &str = "query_plans::";

/// Held by every running test: shared, or alone for the tests under [`ALONE`].
static RUNNING: std::sync::RwLock<()> = std::sync::RwLock::new(());

/// A test's hold on [`RUNNING`], released when it ends.
#[allow(dead_code)]
enum Turn<'a> {
    Alone(std::sync::RwLockWriteGuard<'a, ()>),
    Shared(std::sync::RwLockReadGuard<'a, ()>),
}

#[derive(Clone, Copy)]
enum Body {
    App(TestFn),
    Database(DatabaseTestFn),
}

/// The longest one test may take (the slowest, the crash burst, takes about 30 s).
const TEST_DEADLINE: std::time::Duration = std::time::Duration::from_secs(240);
/// The longest a test's server may take to stop.
const STOP_DEADLINE: std::time::Duration = std::time::Duration::from_secs(30);

fn run_one(backend: Backend, postgres_url: Option<&str>, body: Body) -> Result<()> {
    let runtime =
        tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
    runtime.block_on(async move {
        // The core's harness makes the database (migrated) and removes it when dropped.
        let database = match backend {
            Backend::Sqlite => fresh::TestDb::sqlite().await?,
            Backend::Postgres => {
                fresh::TestDb::postgres(postgres_url.context("no PostgreSQL URL")?).await?
            }
        };
        let test_database = TestDatabase { backend, url: database.url().to_owned() };
        let outcome = match body {
            Body::App(test) => match start_app(&test_database, &[]).await {
                Ok(OwnedApp { app, server }) => {
                    // Bounded, so a request that never answers fails its test instead of
                    // holding the whole suite (CI) until it is killed.
                    let outcome = match tokio::time::timeout(TEST_DEADLINE, test(app)).await {
                        Ok(outcome) => outcome,
                        Err(_) => Err(anyhow::anyhow!(
                            "the test did not finish within {} s",
                            TEST_DEADLINE.as_secs()
                        )),
                    };
                    if tokio::time::timeout(STOP_DEADLINE, server.stop()).await.is_err() {
                        eprintln!(
                            "warning: the server did not stop within {} s; its tasks are dropped with the test's runtime",
                            STOP_DEADLINE.as_secs()
                        );
                    }
                    outcome
                }
                Err(e) => Err(e),
            },
            Body::Database(test) => test(test_database).await,
        };
        database.db().close().await;
        drop(database);
        outcome
    })
}

/// A server started by a test, with its app handle; [`OwnedApp::stop`] ends it.
pub struct OwnedApp {
    pub app: TestApp,
    server: RunningServer,
}

impl OwnedApp {
    /// Stops the server and closes its database pool.
    pub async fn stop(self) {
        self.server.stop().await;
    }
}

/// Starts the real server on 127.0.0.1:0 against `database`, in development mode (demo data,
/// sandbox) unless `settings` (configuration keys and values, as in `settle.toml`) say
/// otherwise.
pub async fn start_app(
    database: &TestDatabase,
    settings: &[(&str, serde_json::Value)],
) -> Result<OwnedApp> {
    let server = spawn(&database.url, settings).await?;
    let app = TestApp {
        base: format!("http://{}", server.addr),
        client: browser(),
        db: server.state.db.clone(),
        backend: database.backend,
        state: server.state.clone(),
    };
    Ok(OwnedApp { app, server })
}

/// Starts the real server on 127.0.0.1:0 with the test defaults and `settings` over them.
async fn spawn(
    database_url: &str,
    settings: &[(&str, serde_json::Value)],
) -> Result<RunningServer> {
    let mut figment = Figment::from(Serialized::defaults(Config::default()))
        .merge(Serialized::default("bind", "127.0.0.1:0"))
        .merge(Serialized::default("database_url", database_url))
        .merge(Serialized::default("database_max_connections", 5))
        .merge(Serialized::default("log", "warn"))
        // Tests run collection days on demand, for the dates they choose.
        .merge(Serialized::default("collection_day_interval_minutes", 0));
    for (key, value) in settings {
        figment = match plain(value) {
            Some(value) => figment.merge(Serialized::default(key, value)),
            None => figment.merge(Serialized::default(key, value)),
        };
    }
    let config = Config::from_figment(figment)?;
    if std::env::var("SETTLE_TEST_LOG").is_ok() {
        settle_server::telemetry::init(&config);
    }
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    settle_server::start(config, listener).await
}

/// A setting as figment wants it: serde_json numbers here are arbitrary-precision (serialized
/// as maps), so numbers, and lists and maps holding them, become figment's own values.
fn plain(value: &serde_json::Value) -> Option<figment::value::Value> {
    use figment::value::{Dict, Value as F};
    use serde_json::Value as J;
    Some(match value {
        J::Number(n) => n
            .as_u64()
            .map(F::from)
            .or_else(|| n.as_i64().map(F::from))
            .or_else(|| n.as_f64().map(F::from))?,
        J::Array(items) => F::from(items.iter().map(plain).collect::<Option<Vec<_>>>()?),
        J::Object(map) => F::from(
            map.iter().map(|(k, v)| Some((k.clone(), plain(v)?))).collect::<Option<Dict>>()?,
        ),
        J::String(s) => F::from(s.clone()),
        J::Bool(b) => F::from(*b),
        J::Null => return None,
    })
}

/// One request a [`Capture`] server received.
#[derive(Clone, Debug)]
pub struct Captured {
    pub path: String,
    /// The `settle-signature` header, if any.
    pub signature: Option<String>,
    pub body: Vec<u8>,
}

impl Captured {
    /// The body as a URL-encoded form (a browser's post).
    pub fn form(&self) -> Vec<(String, String)> {
        serde_urlencoded::from_bytes(&self.body).unwrap_or_default()
    }

    /// The body as JSON (a notification).
    pub fn json(&self) -> Result<serde_json::Value> {
        Ok(serde_json::from_slice(&self.body)?)
    }
}

/// A stand-in for the endpoints a gateway calls back (notification URL, 3-D Secure return
/// URL): an HTTP server on 127.0.0.1:0 that records every POST and answers 200.
pub struct Capture {
    pub base: String,
    received: std::sync::Arc<std::sync::Mutex<Vec<Captured>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Capture {
    pub async fn start() -> Result<Capture> {
        use axum::extract::{Request, State};
        let received = std::sync::Arc::new(std::sync::Mutex::new(Vec::<Captured>::new()));
        let record = |State(received): State<std::sync::Arc<std::sync::Mutex<Vec<Captured>>>>,
                      request: Request| async move {
            let path = request.uri().path().to_owned();
            let signature = request
                .headers()
                .get(settle::connector::signature::HEADER)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned);
            let body = axum::body::to_bytes(request.into_body(), 1024 * 1024)
                .await
                .map(|b| b.to_vec())
                .unwrap_or_default();
            received.lock().expect("capture lock").push(Captured { path, signature, body });
            "ok"
        };
        let router =
            axum::Router::new().fallback(axum::routing::post(record)).with_state(received.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let base = format!("http://{}", listener.local_addr()?);
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, router).await;
        });
        Ok(Capture { base, received, task })
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// What arrived at `path` so far.
    pub fn at(&self, path: &str) -> Vec<Captured> {
        self.received
            .lock()
            .expect("capture lock")
            .iter()
            .filter(|c| c.path == path)
            .cloned()
            .collect()
    }

    /// Waits (at most `within`) until `count` requests arrived at `path`, and returns them all.
    pub async fn wait_for(
        &self,
        path: &str,
        count: usize,
        within: std::time::Duration,
    ) -> Result<Vec<Captured>> {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let seen = self.at(path);
            if seen.len() >= count {
                return Ok(seen);
            }
            if tokio::time::Instant::now() >= deadline {
                bail!("{} request(s) at {path} within {within:?}, expected {count}", seen.len());
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    }
}

impl Drop for Capture {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A form found in an HTML page, with its submit buttons.
#[derive(Clone, Debug, Default)]
pub struct HtmlForm {
    pub action: String,
    pub method: String,
    /// `<input>` name/value pairs, in order.
    pub fields: Vec<(String, String)>,
    /// Submit buttons: (label, name, value).
    pub buttons: Vec<(String, String, String)>,
}

impl HtmlForm {
    /// The fields a browser posts when the button labelled `label` is clicked.
    pub fn submission(&self, label: &str) -> Result<Vec<(String, String)>> {
        let (_, name, value) = self
            .buttons
            .iter()
            .find(|(l, _, _)| l == label)
            .with_context(|| format!("no {label:?} button in {:?}", self.buttons))?;
        let mut fields = self.fields.clone();
        if !name.is_empty() {
            fields.push((name.clone(), value.clone()));
        }
        Ok(fields)
    }
}

/// The forms of an HTML page (enough of HTML for the pages we and the sandbox render:
/// double-quoted attributes, no nested forms).
pub fn html_forms(html: &str) -> Vec<HtmlForm> {
    fn unescape(s: &str) -> String {
        s.replace("&quot;", "\"")
            .replace("&#39;", "'")
            .replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&amp;", "&")
    }
    fn attr(tag: &str, name: &str) -> String {
        let needle = format!(" {name}=\"");
        tag.find(&needle)
            .and_then(|start| {
                let rest = &tag[start + needle.len()..];
                rest.find('"').map(|end| unescape(&rest[..end]))
            })
            .unwrap_or_default()
    }
    let mut forms = Vec::new();
    let mut rest = html;
    while let Some(start) = rest.find("<form") {
        let after = &rest[start..];
        let end = after.find("</form>").unwrap_or(after.len());
        let body = &after[..end];
        let open_end = body.find('>').unwrap_or(body.len());
        let open = &body[..open_end];
        let mut form = HtmlForm {
            action: attr(open, "action"),
            method: attr(open, "method"),
            ..HtmlForm::default()
        };
        let mut inner = &body[open_end..];
        while let Some(i) = inner.find("<input") {
            let tag_end = inner[i..].find('>').map(|e| i + e).unwrap_or(inner.len());
            let tag = &inner[i..tag_end];
            form.fields.push((attr(tag, "name"), attr(tag, "value")));
            inner = &inner[tag_end..];
        }
        let mut inner = &body[open_end..];
        while let Some(i) = inner.find("<button") {
            let tag_end = inner[i..].find('>').map(|e| i + e).unwrap_or(inner.len());
            let tag = &inner[i..tag_end];
            let label_end =
                inner[tag_end..].find("</button>").map(|e| tag_end + e).unwrap_or(inner.len());
            let label = unescape(inner.get(tag_end + 1..label_end).unwrap_or("").trim());
            form.buttons.push((label, attr(tag, "name"), attr(tag, "value")));
            inner = &inner[label_end..];
        }
        forms.push(form);
        rest = &after[end..];
    }
    forms
}
