//! The release `settle-server` as a child process on a fresh database of its own: a SQLite file
//! in a temporary directory, or a PostgreSQL database this bench creates and drops.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use sqlx::Connection;
use tokio::process::{Child, Command};

/// The binary Cargo built for this bench (release: `cargo bench` uses the bench profile).
const BINARY: &str = env!("CARGO_BIN_EXE_settle-server");

/// Migrations, demo data and its argon2 hashes on a busy 2-core machine.
const START_TIMEOUT: Duration = Duration::from_secs(180);

/// A fresh database for one backend's run.
pub struct Database {
    /// What the server and the bench connect to.
    pub url: String,
    /// `sqlite` or `postgres`.
    pub backend: &'static str,
    /// PostgreSQL: the server URL to drop the database through, and its name.
    drop_through: Option<(String, String)>,
}

impl Database {
    /// A SQLite file in `dir`.
    pub fn sqlite(dir: &std::path::Path) -> Database {
        let path = dir.join("settle-bench.db");
        Database {
            url: format!("sqlite://{}", path.display()),
            backend: "sqlite",
            drop_through: None,
        }
    }

    /// A new database on the PostgreSQL server at `admin_url`.
    pub async fn postgres(admin_url: &str) -> Result<Database> {
        let mut admin = sqlx::PgConnection::connect(admin_url).await?;
        let name = format!("settle_bench_{}", uuid::Uuid::new_v4().simple());
        sqlx::query(&format!("CREATE DATABASE {name}")).execute(&mut admin).await?;
        admin.close().await?;
        let mut url = url::Url::parse(admin_url).context("SETTLE_BENCH_POSTGRES_URL")?;
        url.set_path(&format!("/{name}"));
        Ok(Database {
            url: url.to_string(),
            backend: "postgres",
            drop_through: Some((admin_url.to_owned(), name)),
        })
    }

    /// Drops a PostgreSQL database (the SQLite file goes with its directory).
    pub async fn drop_database(&self) -> Result<()> {
        if let Some((admin_url, name)) = &self.drop_through {
            let mut admin = sqlx::PgConnection::connect(admin_url).await?;
            sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                .execute(&mut admin)
                .await?;
        }
        Ok(())
    }
}

/// The running server.
pub struct Server {
    child: Child,
    /// `http://127.0.0.1:{port}`.
    pub base: String,
    /// Its log (warnings and errors only).
    pub log: PathBuf,
}

impl Server {
    /// Starts the server on `database` in development mode (demo data, sandbox gateways in the
    /// same process), logging warnings only, and waits until `/readyz` answers.
    pub async fn start(database: &Database, dir: &std::path::Path) -> Result<Server> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        let base = format!("http://127.0.0.1:{port}");
        let log = dir.join(format!("server-{}.log", database.backend));
        let file = std::fs::File::create(&log)?;
        let mut command = Command::new(BINARY);
        command.arg("serve").current_dir(dir).stdin(Stdio::null()).kill_on_drop(true);
        for (key, _) in std::env::vars_os() {
            let key = key.to_string_lossy();
            if key.starts_with("SETTLE_") || key == "DATABASE_URL" || key == "RUST_LOG" {
                command.env_remove(key.as_ref());
            }
        }
        command
            .env("NO_COLOR", "1")
            .env("SETTLE_MODE", "development")
            .env("SETTLE_SANDBOX", "true")
            .env("SETTLE_LOG", "warn")
            .env("DATABASE_URL", &database.url)
            .env("SETTLE_BIND", format!("127.0.0.1:{port}"))
            .env("SETTLE_PUBLIC_URL", &base)
            .stdout(file.try_clone()?)
            .stderr(file);
        let child = command.spawn().with_context(|| format!("starting {BINARY}"))?;
        let mut server = Server { child, base, log };
        server.wait_ready().await?;
        Ok(server)
    }

    async fn wait_ready(&mut self) -> Result<()> {
        let client = reqwest::Client::new();
        let began = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait()? {
                bail!("settle-server exited ({status}); log: {}", self.log.display());
            }
            let ready = client.get(self.url("/readyz")).send().await;
            if ready.is_ok_and(|r| r.status() == 200) {
                return Ok(());
            }
            if began.elapsed() > START_TIMEOUT {
                bail!("settle-server not ready in {START_TIMEOUT:?}; log: {}", self.log.display());
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// A URL on this server.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    fn status_kb(&self, field: &str) -> Option<u64> {
        let pid = self.child.id()?;
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
        let line = status.lines().find(|l| l.starts_with(field))?;
        line.split_whitespace().nth(1)?.parse().ok()
    }

    /// Peak resident memory since the last [`Server::reset_peak`] (VmHWM), in MiB.
    pub fn peak_rss_mib(&self) -> Option<f64> {
        self.status_kb("VmHWM:").map(|kb| kb as f64 / 1024.0)
    }

    /// Starts a new peak-RSS window (Linux: writing 5 to `clear_refs` resets VmHWM to the
    /// current RSS); where that is refused, the peak is the peak since start.
    pub fn reset_peak(&self) {
        if let Some(pid) = self.child.id() {
            let _ = std::fs::write(format!("/proc/{pid}/clear_refs"), "5");
        }
    }

    /// Stops the server and waits for it to exit.
    pub async fn stop(mut self) {
        let _ = self.child.kill().await;
    }
}
