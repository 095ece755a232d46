//! The load generator, in the manner of wrk: N workers, each with its own HTTP client (its own
//! kept-alive connection and cookie jar), run one operation in a loop until the time is up; every
//! completed operation's latency is kept, so rates and percentiles are exact.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Result;
use futures::future::BoxFuture;

/// One worker's HTTP client and its number.
#[derive(Clone)]
pub struct Worker {
    /// Its own client: one connection kept alive, its own cookies (a login session).
    pub client: reqwest::Client,
    /// 0-based worker number.
    pub index: usize,
}

/// A client like one browser or one merchant system: cookies, no redirects followed (a redirect
/// to the login page must count as an error, not as a fast page).
pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .pool_max_idle_per_host(1)
        .timeout(Duration::from_secs(60))
        .build()
        .expect("an HTTP client")
}

/// The operation every worker repeats; an `Err` counts as an error.
pub type Op = Arc<dyn Fn(Worker) -> BoxFuture<'static, Result<()>> + Send + Sync>;

/// What a run measured.
#[derive(Clone, Debug, Default)]
pub struct Measured {
    /// Operations completed successfully.
    pub ok: u64,
    /// Operations that failed (including payments that didn't reach their final state).
    pub errors: u64,
    /// Wall time from the start until the last worker finished its last operation.
    pub elapsed: Duration,
    /// Successful operations' latencies, sorted.
    pub latencies: Vec<Duration>,
    /// The first error seen, to show what went wrong.
    pub first_error: Option<String>,
}

impl Measured {
    /// Successful operations per second.
    pub fn rate(&self) -> f64 {
        if self.elapsed.is_zero() { 0.0 } else { self.ok as f64 / self.elapsed.as_secs_f64() }
    }

    /// The latency at quantile `q` (0..=1) of successful operations.
    pub fn quantile(&self, q: f64) -> Option<Duration> {
        let n = self.latencies.len();
        (n > 0).then(|| self.latencies[((n as f64 * q).ceil() as usize).clamp(1, n) - 1])
    }
}

/// Runs `op` on `workers` (already set up: logged in where needed) for `duration`; operations in
/// flight at the deadline finish and count.
pub async fn run(workers: Vec<Worker>, duration: Duration, op: Op) -> Measured {
    let start = Instant::now();
    let deadline = start + duration;
    let tasks: Vec<_> = workers
        .into_iter()
        .map(|worker| {
            let op = op.clone();
            tokio::spawn(async move {
                let mut mine = Measured::default();
                while Instant::now() < deadline {
                    let began = Instant::now();
                    match op(worker.clone()).await {
                        Ok(()) => {
                            mine.ok += 1;
                            mine.latencies.push(began.elapsed());
                        }
                        Err(e) => {
                            mine.errors += 1;
                            mine.first_error.get_or_insert_with(|| format!("{e:#}"));
                        }
                    }
                }
                mine
            })
        })
        .collect();
    let mut all = Measured::default();
    for task in tasks {
        let mine = task.await.unwrap_or_else(|e| Measured {
            errors: 1,
            first_error: Some(format!("worker panicked: {e}")),
            ..Measured::default()
        });
        all.ok += mine.ok;
        all.errors += mine.errors;
        all.latencies.extend(mine.latencies);
        if all.first_error.is_none() {
            all.first_error = mine.first_error;
        }
    }
    all.elapsed = start.elapsed();
    all.latencies.sort_unstable();
    all
}

/// `n` workers with fresh clients.
pub fn plain_workers(n: usize) -> Vec<Worker> {
    (0..n).map(|index| Worker { client: client(), index }).collect()
}
