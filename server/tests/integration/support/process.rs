//! Child processes for crash tests: the real `settle-server` binary serving on a free loopback
//! port against a test's database, and a separate `settle-server sandbox` process it uses
//! through `sandbox_url`, so the "gateway" outlives the server. Both write their logs to files
//! the test can read; the server can be killed with SIGKILL and restarted on the same database
//! and port.
//!
//! Every wait is bounded, and children are killed when their handle is dropped, so a failing
//! test leaves no process behind.
//!
//! ```ignore
//! let scratch = Scratch::new("crash")?;
//! let sandbox = SandboxProcess::start(&scratch).await?;
//! let mut server = ServerProcess::start(&scratch, &database, &sandbox).await?;
//! // ... pay something through server.url(...)
//! server.kill_9().await?;
//! server.restart().await?;
//! let charges = sandbox.card_transactions(&[("merchant_reference", &reference)]).await?;
//! ```

use std::fs::OpenOptions;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use serde_json::Value;
use tokio::process::{Child, Command};

use super::TestDatabase;

/// The binary under test, built by Cargo for this test target.
pub const BINARY: &str = env!("CARGO_BIN_EXE_settle-server");

/// How long a child may take to answer its readiness check (migrations, demo data and argon2
/// hashes included, on a busy 2-core machine).
pub const START_TIMEOUT: Duration = Duration::from_secs(30);

/// How long one request to a child may take.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);

/// A free loopback port: bind port 0, read the port, let it go (a child can't be handed a bound
/// socket). Another process could take it in between; starts retry with a new port if so.
pub fn free_port() -> Result<u16> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").context("binding 127.0.0.1:0")?;
    Ok(listener.local_addr()?.port())
}

/// A directory for one test's children: their working directory (so no `settle.toml` of ours
/// is read) and their logs. Removed when dropped, unless `SETTLE_TEST_KEEP_LOGS` is set.
pub struct Scratch {
    pub dir: PathBuf,
}

impl Scratch {
    pub fn new(name: &str) -> Result<Scratch> {
        let dir =
            std::env::temp_dir().join(format!("settle-{name}-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        Ok(Scratch { dir })
    }

    /// A log file path in this directory.
    pub fn log(&self, name: &str) -> PathBuf {
        self.dir.join(format!("{name}.log"))
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        if std::env::var_os("SETTLE_TEST_KEEP_LOGS").is_none() {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

/// The text of a log file ("" if there is none yet).
pub fn read_log(path: &Path) -> String {
    std::fs::read(path).map(|b| String::from_utf8_lossy(&b).into_owned()).unwrap_or_default()
}

/// The last `lines` lines of a log, for error messages.
fn tail(path: &Path, lines: usize) -> String {
    let text = read_log(path);
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// Spawns the binary with `args` in `dir`, appending stdout and stderr to `log`. The child sees
/// none of this process's Settle settings, only `env`.
fn spawn(dir: &Path, log: &Path, args: &[&str], env: &[(&str, String)]) -> Result<Child> {
    let mut command = Command::new(BINARY);
    command.args(args).current_dir(dir).stdin(Stdio::null()).kill_on_drop(true);
    for (key, _) in std::env::vars_os() {
        let key = key.to_string_lossy();
        if key.starts_with("SETTLE_") || key == "DATABASE_URL" || key == "RUST_LOG" {
            command.env_remove(key.as_ref());
        }
    }
    command.env("NO_COLOR", "1");
    for (key, value) in env {
        command.env(key, value);
    }
    let file = OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .with_context(|| format!("opening {}", log.display()))?;
    command.stdout(file.try_clone()?).stderr(file);
    command.spawn().with_context(|| format!("starting {BINARY} {}", args.join(" ")))
}

/// Runs the binary with `args` in `scratch`'s directory to its end (bounded by twice
/// [`START_TIMEOUT`]), with only `env` as its settings; answers whether it succeeded and what
/// it printed.
pub async fn run_to_end(
    scratch: &Scratch,
    name: &str,
    args: &[&str],
    env: &[(&str, String)],
) -> Result<(bool, String)> {
    let log = scratch.log(name);
    let mut child = spawn(&scratch.dir, &log, args, env)?;
    let status =
        tokio::time::timeout(START_TIMEOUT * 2, child.wait()).await.with_context(|| {
            format!("settle-server {} did not end; log:\n{}", args.join(" "), tail(&log, 40))
        })??;
    Ok((status.success(), read_log(&log)))
}

/// Appends a harness line to a log, so a reader sees where each start begins.
fn mark(log: &Path, line: &str) {
    use std::io::Write;
    if let Ok(mut file) = OpenOptions::new().create(true).append(true).open(log) {
        let _ = writeln!(file, "--- harness: {line} ---");
    }
}

fn client() -> Result<reqwest::Client> {
    Ok(reqwest::Client::builder().timeout(REQUEST_TIMEOUT).build()?)
}

/// Polls `url` until it answers 200 (its JSON body is returned), the child exits, or `within`
/// passes.
async fn wait_for_200(child: &mut Child, url: &str, log: &Path, within: Duration) -> Result<Value> {
    let client = client()?;
    let deadline = tokio::time::Instant::now() + within;
    loop {
        if let Some(status) = child.try_wait()? {
            bail!("the child exited ({status}) before {url} answered; log:\n{}", tail(log, 40));
        }
        if let Ok(response) = client.get(url).send().await
            && response.status() == reqwest::StatusCode::OK
        {
            return Ok(response.json().await.unwrap_or(Value::Null));
        }
        if tokio::time::Instant::now() >= deadline {
            bail!("{url} did not answer 200 within {within:?}; log:\n{}", tail(log, 40));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Starts a child on a port from `port`, retrying (within [`START_TIMEOUT`]) when it exits
/// before it is ready, e.g. because another process took a free port first.
async fn start_ready(
    port: &mut u16,
    new_port_on_retry: bool,
    log: &Path,
    launch: impl Fn(u16) -> Result<Child>,
    ready_path: &str,
) -> Result<Child> {
    let deadline = tokio::time::Instant::now() + START_TIMEOUT;
    loop {
        let mut child = launch(*port)?;
        let url = format!("http://127.0.0.1:{port}{ready_path}");
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        match wait_for_200(&mut child, &url, log, left).await {
            Ok(_) => return Ok(child),
            Err(e) => {
                let exited = child.try_wait()?.is_some();
                let _ = child.kill().await;
                if !exited || tokio::time::Instant::now() >= deadline {
                    return Err(e);
                }
                mark(log, "the child exited before it was ready; starting it again");
                tokio::time::sleep(Duration::from_millis(200)).await;
                if new_port_on_retry {
                    *port = free_port()?;
                }
            }
        }
    }
}

/// A `settle-server sandbox` child: the sandbox providers on their own port, with their state in
/// memory for as long as this handle lives.
pub struct SandboxProcess {
    child: Child,
    /// `http://127.0.0.1:{port}`; the providers are under `{base}/sandbox/...`.
    pub base: String,
    pub log: PathBuf,
}

impl SandboxProcess {
    /// Starts the sandbox process (development mode: it signs with the development key, as a
    /// development server verifies) and waits until it answers.
    pub async fn start(scratch: &Scratch) -> Result<SandboxProcess> {
        let log = scratch.log("sandbox");
        let dir = scratch.dir.clone();
        let mut port = free_port()?;
        let launch = |port: u16| {
            mark(&log, &format!("settle-server sandbox on port {port}"));
            let bind = format!("127.0.0.1:{port}");
            spawn(
                &dir,
                &log,
                &["sandbox", "--bind", &bind],
                &[("SETTLE_MODE", "development".into())],
            )
        };
        let child = start_ready(&mut port, true, &log, launch, "/sandbox/faults").await?;
        Ok(SandboxProcess { child, base: format!("http://127.0.0.1:{port}"), log })
    }

    /// What a server's `sandbox_url` must be to use this sandbox.
    pub fn sandbox_url(&self) -> String {
        format!("{}/sandbox", self.base)
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// The card acquirer's transactions (`GET /sandbox/card/transactions?…`), newest first:
    /// e.g. `[("merchant_reference", reference)]` or `[("since", time)]`.
    /// Sets a provider's faults (`card`, `hosted-checkout`, `bank`, `apple-pay`).
    pub async fn set_faults(&self, provider: &str, faults: Value) -> Result<()> {
        let url = self.url(&format!("/sandbox/faults/{provider}"));
        let response = reqwest::Client::new().put(url).json(&faults).send().await?;
        if response.status() != 200 {
            bail!("setting {provider} faults: {}", response.status());
        }
        Ok(())
    }

    pub async fn card_transactions(&self, filter: &[(&str, &str)]) -> Result<Vec<Value>> {
        self.list("/sandbox/card/transactions", "transactions", filter).await
    }

    /// The hosted-checkout provider's checkouts and token charges, newest first.
    #[allow(dead_code, reason = "for the crash tests to come")]
    pub async fn checkouts(&self, filter: &[(&str, &str)]) -> Result<Vec<Value>> {
        self.list("/sandbox/hosted-checkout/checkouts", "checkouts", filter).await
    }

    /// The bank's collections, newest first.
    #[allow(dead_code, reason = "for the crash tests to come")]
    pub async fn collections(&self, filter: &[(&str, &str)]) -> Result<Vec<Value>> {
        self.list("/sandbox/bank/collections", "collections", filter).await
    }

    async fn list(&self, path: &str, key: &str, filter: &[(&str, &str)]) -> Result<Vec<Value>> {
        let response =
            client()?.get(self.url(path)).query(filter).bearer_auth("harness").send().await?;
        let status = response.status();
        let body: Value = response.json().await.unwrap_or(Value::Null);
        if status != reqwest::StatusCode::OK {
            bail!("GET {path} answered {status}: {body}");
        }
        body[key].as_array().cloned().with_context(|| format!("no {key:?} in {body}"))
    }

    /// Everything the sandbox logged so far.
    pub fn log_text(&self) -> String {
        read_log(&self.log)
    }

    /// Whether the child is still running.
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }
}

/// A `settle-server` child on a fixed loopback port against one database, using a
/// [`SandboxProcess`] for its gateways (`sandbox = false`, `sandbox_url` set).
pub struct ServerProcess {
    child: Option<Child>,
    pub port: u16,
    /// `http://127.0.0.1:{port}`, also its `public_url`.
    pub base: String,
    pub log: PathBuf,
    dir: PathBuf,
    env: Vec<(&'static str, String)>,
    starts: u32,
}

impl ServerProcess {
    /// Starts the server in development mode (demo data loaded into the empty database) and
    /// waits until `/readyz` answers.
    pub async fn start(
        scratch: &Scratch,
        database: &TestDatabase,
        sandbox: &SandboxProcess,
    ) -> Result<ServerProcess> {
        Self::start_with(scratch, database, sandbox, &[]).await
    }

    /// Like [`ServerProcess::start`] with more settings, as environment variables
    /// (`("SETTLE_RECONCILE_INTERVAL_SECONDS", "1".into())`); they win over the defaults here.
    pub async fn start_with(
        scratch: &Scratch,
        database: &TestDatabase,
        sandbox: &SandboxProcess,
        settings: &[(&'static str, String)],
    ) -> Result<ServerProcess> {
        let mut env: Vec<(&'static str, String)> = vec![
            ("SETTLE_MODE", "development".into()),
            ("DATABASE_URL", database.url.clone()),
            ("SETTLE_DATABASE_MAX_CONNECTIONS", "5".into()),
            ("SETTLE_SANDBOX", "false".into()),
            ("SETTLE_SANDBOX_URL", sandbox.sandbox_url()),
        ];
        for (key, value) in settings {
            env.retain(|(k, _)| k != key);
            env.push((key, value.clone()));
        }
        let mut server = ServerProcess {
            child: None,
            port: free_port()?,
            base: String::new(),
            log: scratch.log("server"),
            dir: scratch.dir.clone(),
            env,
            starts: 0,
        };
        server.launch(true).await?;
        Ok(server)
    }

    async fn launch(&mut self, new_port_on_retry: bool) -> Result<()> {
        self.starts += 1;
        let (dir, log, env, starts) = (&self.dir, &self.log, &self.env, self.starts);
        let launch = |port: u16| {
            mark(log, &format!("settle-server start #{starts} on port {port}"));
            let mut env = env.clone();
            env.push(("SETTLE_BIND", format!("127.0.0.1:{port}")));
            env.push(("SETTLE_PUBLIC_URL", format!("http://127.0.0.1:{port}")));
            spawn(dir, log, &["serve"], &env)
        };
        let mut port = self.port;
        let child = start_ready(&mut port, new_port_on_retry, log, launch, "/readyz").await?;
        self.port = port;
        self.base = format!("http://127.0.0.1:{port}");
        self.child = Some(child);
        Ok(())
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// A bearer token for the demo customer through the demo merchant's client (password
    /// grant), as seed 003's app holds one.
    pub async fn customer_token(&self) -> Result<String> {
        use settle::demo::{CUSTOMER_EMAIL, CUSTOMER_PASSWORD, MERCHANT_CLIENT_ID};
        self.token(&[
            ("grant_type", "password"),
            ("username", CUSTOMER_EMAIL),
            ("password", CUSTOMER_PASSWORD),
            ("client_id", MERCHANT_CLIENT_ID),
        ])
        .await
    }

    /// A bearer token for the demo merchant's system (client credentials).
    pub async fn merchant_token(&self) -> Result<String> {
        use settle::demo::{MERCHANT_CLIENT_ID, MERCHANT_CLIENT_SECRET};
        self.token(&[
            ("grant_type", "client_credentials"),
            ("client_id", MERCHANT_CLIENT_ID),
            ("client_secret", MERCHANT_CLIENT_SECRET),
        ])
        .await
    }

    async fn token(&self, form: &[(&str, &str)]) -> Result<String> {
        let body: Value = reqwest::Client::new()
            .post(self.url("/oauth/token"))
            .form(form)
            .send()
            .await?
            .json()
            .await?;
        Ok(body["access_token"].as_str().context("an access token")?.to_owned())
    }

    /// Waits (at most `within`) until `/readyz` answers 200; its body.
    pub async fn wait_ready(&mut self, within: Duration) -> Result<Value> {
        let url = self.url("/readyz");
        let child = self.child.as_mut().context("the server is not running")?;
        wait_for_200(child, &url, &self.log, within).await
    }

    /// `kill -9`: SIGKILL, no chance to finish anything, then reaps the process.
    pub async fn kill_9(&mut self) -> Result<()> {
        let mut child = self.child.take().context("the server is not running")?;
        // `Child::kill` is SIGKILL on unix, and waits for the process to be gone.
        child.kill().await.context("killing the server")?;
        let status = child.wait().await?;
        #[cfg(unix)]
        {
            use std::os::unix::process::ExitStatusExt;
            if status.signal() != Some(9) {
                bail!("the server ended with {status}, not by SIGKILL");
            }
        }
        mark(&self.log, &format!("killed with SIGKILL ({status})"));
        Ok(())
    }

    /// Starts the server again on the same database and port, and waits until it is ready.
    pub async fn restart(&mut self) -> Result<()> {
        if self.child.is_some() {
            bail!("restart: the server is still running (kill it first)");
        }
        self.launch(false).await
    }

    /// Whether the child is running.
    pub fn is_running(&mut self) -> bool {
        self.child.as_mut().is_some_and(|c| matches!(c.try_wait(), Ok(None)))
    }

    /// Everything the server logged so far, over all its starts.
    pub fn log_text(&self) -> String {
        read_log(&self.log)
    }
}

/// Loads the demo world into `database` and adds `n` one-day short-term motor quotes for the
/// demo customer (`{prefix}/0000/SHORT/WEB`, …), before any server starts on it (a server then
/// finds users and loads no demo data of its own). Tests that pay many quotes use these.
pub async fn demo_world_with_quotes(
    database: &TestDatabase,
    prefix: &str,
    n: usize,
) -> Result<Vec<String>> {
    let store = settle::Db::connect(&database.url, 2).await?;
    store.migrate().await?;
    settle::demo::load(&store).await?;
    let customer =
        settle::service::Service::find_by_reference(&store, settle::demo::CARD_POLICY_NUMBER)
            .await?
            .context("the demo quote")?
            .customer_id;
    let mut numbers = Vec::new();
    for i in 0..n {
        let number = format!("{prefix}/{i:04}/SHORT/WEB");
        super::short_term_quote(&store, &customer, &number, 1).await?;
        numbers.push(number);
    }
    store.close().await;
    Ok(numbers)
}
