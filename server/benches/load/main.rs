//! Load benchmark: the release `settle-server` as a child process on SQLite and on PostgreSQL,
//! loaded over HTTP by N concurrent clients (10, 50, 200) for a bounded time per case, next to a
//! bare INSERT/SELECT baseline on the same database in the same run; then the card flow again
//! after a million purchase lines. Prints a markdown table and writes it to a file.
//!
//! Run: `cargo bench -p settle-server --bench load`. Settings (environment):
//! `LOAD_SECONDS` (5), `LOAD_CLIENTS` (`10,50,200`), `LOAD_BACKENDS` (`sqlite,postgres`),
//! `LOAD_CASES` (`card,api-pay,poll-v1,poll-api,account,login,seeded`), `LOAD_SEED_LINES`
//! (1000000), `LOAD_REPORT` (`target/load-report.md`), `SETTLE_BENCH_POSTGRES_URL`
//! (`postgres://postgres@127.0.0.1:5432/postgres`; unreachable: PostgreSQL is skipped with a line).

mod baseline;
mod child;
mod db;
mod flows;
mod generator;
mod report;
mod run;

use std::path::PathBuf;
use std::time::Duration;

use report::Report;
use run::Case;

/// Everything a run is told by its environment.
pub struct Settings {
    /// How long each case runs.
    pub duration: Duration,
    /// The concurrency levels.
    pub clients: Vec<usize>,
    /// `sqlite` and/or `postgres`.
    pub backends: Vec<String>,
    /// The cases to run, in order.
    pub cases: Vec<Case>,
    /// Purchase lines to add before the seeded card flow.
    pub seed_lines: u64,
    /// Clients of the seeded card flow (and of the run it is compared with).
    pub seed_clients: usize,
    /// The PostgreSQL server the bench creates its database on.
    pub postgres_url: String,
    /// Where the report is written.
    pub report: PathBuf,
    /// How long the job queue may take to drain after a payment case.
    pub drain_cap: Duration,
}

fn env_or(key: &str, default: &str) -> String {
    std::env::var(key).ok().filter(|v| !v.trim().is_empty()).unwrap_or_else(|| default.to_owned())
}

fn list(key: &str, default: &str) -> Vec<String> {
    env_or(key, default).split(',').map(|s| s.trim().to_owned()).filter(|s| !s.is_empty()).collect()
}

impl Settings {
    fn from_env() -> anyhow::Result<Settings> {
        let seconds: f64 = env_or("LOAD_SECONDS", "5").parse()?;
        let clients = list("LOAD_CLIENTS", "10,50,200")
            .iter()
            .map(|c| c.parse())
            .collect::<Result<Vec<usize>, _>>()?;
        let cases = list("LOAD_CASES", &Case::ALL.map(Case::key).join(","))
            .iter()
            .map(|c| Case::parse(c))
            .collect::<anyhow::Result<Vec<Case>>>()?;
        // `target/load-report.md`: the target dir is the parent of this bench's tmp dir.
        let target = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
        let default_report = target.parent().unwrap_or(&target).join("load-report.md");
        Ok(Settings {
            duration: Duration::from_secs_f64(seconds),
            seed_clients: if clients.contains(&50) { 50 } else { clients[clients.len() / 2] },
            clients,
            backends: list("LOAD_BACKENDS", "sqlite,postgres"),
            cases,
            seed_lines: env_or("LOAD_SEED_LINES", "1000000").parse()?,
            postgres_url: env_or(
                "SETTLE_BENCH_POSTGRES_URL",
                "postgres://postgres@127.0.0.1:5432/postgres",
            ),
            report: std::env::var_os("LOAD_REPORT").map(PathBuf::from).unwrap_or(default_report),
            drain_cap: Duration::from_secs(60),
        })
    }
}

/// `nproc`, the CPU model and the time, for the report's first line.
fn machine() -> String {
    let cpus = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0);
    let model = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| {
            c.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|m| m.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let memory = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            let kb: f64 = m.lines().next()?.split_whitespace().nth(1)?.parse().ok()?;
            Some(format!(", {:.0} GiB RAM", kb / 1024.0 / 1024.0))
        })
        .unwrap_or_default();
    format!("{} UTC, {cpus} CPUs ({model}){memory}", chrono::Utc::now().format("%Y-%m-%d %H:%M"))
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    // `cargo bench` passes `--bench` (and any filter); this harness takes its settings from the
    // environment only.
    let settings = Settings::from_env()?;
    let header = format!(
        "Load benchmark: {}. Release build, log=warn, sandbox in the server, pool 10, {} s per \
         case; load generator and baseline server in the bench process on the same machine. \
         Payment rates count payments that reached POLICY_CONVERTED; latency of a payment is \
         from its first request until its final state was seen.",
        machine(),
        settings.duration.as_secs_f64()
    );
    println!("{header}");
    let mut report = Report::new(header, settings.drain_cap);
    for backend in &settings.backends {
        if let Err(e) = run::backend(backend, &settings, &mut report).await {
            report.note(format!("{backend}: the run stopped: {e:#}"));
        }
    }
    report.finish(&settings.report)?;
    Ok(())
}
