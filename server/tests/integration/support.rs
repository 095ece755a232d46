//! The test harness: a real server on port 0 against a fresh database per test, on each backend.

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
use sqlx::Connection;

/// A test body: gets a running app, returns Ok if every step held.
pub type TestFn = fn(TestApp) -> Pin<Box<dyn Future<Output = Result<()>> + Send>>;

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
}

/// A client that behaves like a browser for our purposes.
pub fn browser() -> Client {
    Client::builder()
        .cookie_store(true)
        .redirect(redirect::Policy::none())
        .build()
        .expect("the HTTP client builds")
}

/// The `Location` header of a response, or "".
pub fn location(response: &Response) -> String {
    response.headers().get("location").and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned()
}

/// Fails with `what` unless `cond` holds.
pub fn ensure(cond: bool, what: impl std::fmt::Display) -> Result<()> {
    if cond { Ok(()) } else { bail!("{what}") }
}

/// Runs every test on SQLite and, if configured, PostgreSQL.
pub fn run(tests: &[(&'static str, TestFn)]) {
    let args = libtest_mimic::Arguments::from_args();
    let postgres = std::env::var("SETTLE_TEST_POSTGRES_URL").ok().filter(|u| !u.trim().is_empty());
    if postgres.is_none() {
        println!(
            "note: SETTLE_TEST_POSTGRES_URL is not set, so the PostgreSQL runs of these tests are skipped"
        );
    }
    let mut trials = Vec::new();
    for &(name, test) in tests {
        trials.push(libtest_mimic::Trial::test(format!("sqlite::{name}"), move || {
            run_one(Backend::Sqlite, None, test).map_err(|e| format!("{e:#}").into())
        }));
        if let Some(url) = postgres.clone() {
            trials.push(libtest_mimic::Trial::test(format!("postgres::{name}"), move || {
                run_one(Backend::Postgres, Some(url.clone()), test)
                    .map_err(|e| format!("{e:#}").into())
            }));
        }
    }
    libtest_mimic::run(&args, trials).exit();
}

fn run_one(backend: Backend, postgres_url: Option<String>, test: TestFn) -> Result<()> {
    let runtime =
        tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
    runtime.block_on(async move {
        let database = FreshDatabase::create(backend, postgres_url.as_deref()).await?;
        let server = spawn(&database.url).await?;
        let app = TestApp {
            base: format!("http://{}", server.addr),
            client: browser(),
            db: server.state.db.clone(),
            backend,
        };
        let outcome = test(app).await;
        server.stop().await;
        database.drop().await;
        outcome
    })
}

/// Starts the real server on 127.0.0.1:0 in development mode (demo data, sandbox).
async fn spawn(database_url: &str) -> Result<RunningServer> {
    let config = Config::from_figment(
        Figment::from(Serialized::defaults(Config::default()))
            .merge(Serialized::default("bind", "127.0.0.1:0"))
            .merge(Serialized::default("database_url", database_url))
            .merge(Serialized::default("database_max_connections", 5))
            .merge(Serialized::default("log", "warn")),
    )?;
    if std::env::var("SETTLE_TEST_LOG").is_ok() {
        settle_server::telemetry::init(&config);
    }
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    settle_server::start(config, listener).await
}

/// A database made for one test and removed after it.
struct FreshDatabase {
    url: String,
    cleanup: Cleanup,
}

enum Cleanup {
    File(std::path::PathBuf),
    Postgres { admin_url: String, name: String },
}

impl FreshDatabase {
    async fn create(backend: Backend, postgres_url: Option<&str>) -> Result<FreshDatabase> {
        let unique = uuid::Uuid::new_v4().simple().to_string();
        match backend {
            Backend::Sqlite => {
                let path = std::env::temp_dir().join(format!("settle-test-{unique}.db"));
                Ok(FreshDatabase {
                    url: format!("sqlite://{}", path.display()),
                    cleanup: Cleanup::File(path),
                })
            }
            Backend::Postgres => {
                let admin_url = postgres_url.context("no PostgreSQL URL")?.to_owned();
                let name = format!("settle_test_{unique}");
                let mut conn =
                    sqlx::PgConnection::connect(&admin_url).await.with_context(|| {
                        format!("connecting to SETTLE_TEST_POSTGRES_URL={admin_url}")
                    })?;
                sqlx::query(&format!("CREATE DATABASE {name}")).execute(&mut conn).await?;
                let mut url = url::Url::parse(&admin_url)?;
                url.set_path(&name);
                Ok(FreshDatabase {
                    url: url.to_string(),
                    cleanup: Cleanup::Postgres { admin_url, name },
                })
            }
        }
    }

    async fn drop(self) {
        match self.cleanup {
            Cleanup::File(path) => {
                for suffix in ["", "-wal", "-shm"] {
                    let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
                }
            }
            Cleanup::Postgres { admin_url, name } => {
                if let Ok(mut conn) = sqlx::PgConnection::connect(&admin_url).await {
                    let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                        .execute(&mut conn)
                        .await;
                }
            }
        }
    }
}
