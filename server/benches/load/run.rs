//! One backend's run: a fresh database, the server and the baseline on it, every case at every
//! concurrency, then the card flow again after seeding purchase lines.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use anyhow::{Result, bail};
use futures::{FutureExt, StreamExt};
use settle::db::Db;

use crate::Settings;
use crate::baseline::BaselineServer;
use crate::child::{Database, Server};
use crate::db;
use crate::flows::Settle;
use crate::generator::{self, Measured, Op, Worker};
use crate::report::{Queue, Report, Row};

/// Settle's pool size (the default `database_max_connections`), also the baseline's.
const POOL_SIZE: u32 = 10;

/// Payments each polling case needs to exist first.
const PAYMENTS_TO_POLL: usize = 20;

/// What a case loads.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Case {
    /// Seed 003: prepare → take-payment → poll until POLICY_CONVERTED.
    Card,
    /// `POST /api/payments` → poll `GET /api/payments/{ref}` until POLICY_CONVERTED.
    ApiPay,
    /// `GET /api/v1/payments/{uuid}/` of a converted payment.
    PollV1,
    /// `GET /api/payments/{ref}` of a converted payment.
    PollApi,
    /// The logged-in customer's `/account` page.
    Account,
    /// The anonymous `/login` page.
    Login,
    /// The card flow again after seeding purchase lines.
    Seeded,
}

impl Case {
    /// Every case, in the order they run.
    pub const ALL: [Case; 7] = [
        Case::Card,
        Case::ApiPay,
        Case::PollV1,
        Case::PollApi,
        Case::Account,
        Case::Login,
        Case::Seeded,
    ];

    /// Its name in `LOAD_CASES`.
    pub fn key(self) -> &'static str {
        match self {
            Case::Card => "card",
            Case::ApiPay => "api-pay",
            Case::PollV1 => "poll-v1",
            Case::PollApi => "poll-api",
            Case::Account => "account",
            Case::Login => "login",
            Case::Seeded => "seeded",
        }
    }

    /// The case named `key`.
    pub fn parse(key: &str) -> Result<Case> {
        match Case::ALL.into_iter().find(|c| c.key() == key) {
            Some(case) => Ok(case),
            None => {
                bail!("unknown case {key} in LOAD_CASES (known: {:?})", Case::ALL.map(Case::key))
            }
        }
    }

    fn title(self) -> &'static str {
        match self {
            Case::Card | Case::Seeded => {
                "seed 003 card flow (prepare → take-payment → poll to POLICY_CONVERTED)"
            }
            Case::ApiPay => "POST /api/payments → poll to POLICY_CONVERTED",
            Case::PollV1 => "poll GET /api/v1/payments/{uuid}/",
            Case::PollApi => "poll GET /api/payments/{ref}",
            Case::Account => "/account page (logged in)",
            Case::Login => "/login page",
        }
    }

    fn pays(self) -> bool {
        matches!(self, Case::Card | Case::ApiPay | Case::Seeded)
    }
}

/// One backend's server, baseline and what has been measured on them.
struct Run<'a> {
    settings: &'a Settings,
    backend: &'static str,
    server: Server,
    baseline: BaselineServer,
    settle: Arc<Settle>,
    db: Db,
    baselines: HashMap<(&'static str, usize), Measured>,
    peak_rss_mib: f64,
}

/// Runs every case on `backend` (`sqlite` or `postgres`) and adds the rows to `report`.
pub async fn backend(name: &str, settings: &Settings, report: &mut Report) -> Result<()> {
    let dir = std::env::temp_dir().join(format!("settle-load-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir)?;
    let database = match name {
        "sqlite" => Database::sqlite(&dir),
        "postgres" => match Database::postgres(&settings.postgres_url).await {
            Ok(database) => database,
            Err(e) => {
                report.note(format!(
                    "PostgreSQL skipped: can't create a database at {} ({e:#}); set \
                     SETTLE_BENCH_POSTGRES_URL",
                    settings.postgres_url
                ));
                return Ok(());
            }
        },
        other => bail!("unknown backend {other} in LOAD_BACKENDS (sqlite, postgres)"),
    };
    let outcome = run_on(&database, &dir, settings, report).await;
    if let Err(e) = database.drop_database().await {
        report.note(format!("dropping the bench database: {e:#}"));
    }
    let _ = std::fs::remove_dir_all(&dir);
    outcome
}

async fn run_on(
    database: &Database,
    dir: &std::path::Path,
    settings: &Settings,
    report: &mut Report,
) -> Result<()> {
    let began = Instant::now();
    let server = Server::start(database, dir).await?;
    let startup_peak = server.peak_rss_mib().unwrap_or(0.0);
    let settle = Arc::new(Settle::connect(&server.base).await?);
    let baseline = BaselineServer::start(&database.url, POOL_SIZE).await?;
    let db = Db::connect(&database.url, 2).await?;
    let mut run = Run {
        settings,
        backend: database.backend,
        server,
        baseline,
        settle,
        db,
        baselines: HashMap::new(),
        peak_rss_mib: startup_peak,
    };
    for &clients in &settings.clients {
        for &case in settings.cases.iter().filter(|c| **c != Case::Seeded) {
            let row = run.case(case, clients, report).await?;
            report.add(row);
        }
    }
    if settings.cases.contains(&Case::Seeded) && settings.seed_lines > 0 {
        run.seeded(report).await?;
    }
    report.note(format!(
        "{}: server peak RSS over the whole run {:.0} MiB (at start {startup_peak:.0} MiB); \
         run took {:.0} s; server log (warnings) {}",
        run.backend,
        run.peak_rss_mib,
        began.elapsed().as_secs_f64(),
        run.server.log.display()
    ));
    run.baseline.stop();
    run.server.stop().await;
    Ok(())
}

impl Run<'_> {
    /// The baseline of `kind` (`INSERT` or `SELECT`) at `clients`, measured once per run.
    async fn baseline(&mut self, kind: &'static str, clients: usize) -> Measured {
        if let Some(m) = self.baselines.get(&(kind, clients)) {
            return m.clone();
        }
        let op = match kind {
            "INSERT" => self.baseline.insert_op(),
            _ => self.baseline.select_op(),
        };
        let measured =
            generator::run(generator::plain_workers(clients), self.settings.duration, op).await;
        self.baselines.insert((kind, clients), measured.clone());
        measured
    }

    async fn case(&mut self, case: Case, clients: usize, report: &mut Report) -> Result<Row> {
        let kind = if case.pays() { "INSERT" } else { "SELECT" };
        let baseline = self.baseline(kind, clients).await;
        let workers = generator::plain_workers(clients);
        let mut note = None;
        match case {
            Case::Account => self.log_in_all(&workers).await?,
            Case::PollV1 | Case::PollApi => self.ensure_payments(case).await?,
            _ => {}
        }
        if case.pays() {
            self.bill_ahead(case, clients, report).await?;
            self.settle.made_during_run.store(0, Ordering::Relaxed);
        }
        self.server.reset_peak();
        let settle = generator::run(workers, self.settings.duration, self.op(case)).await;
        let peak = self.server.peak_rss_mib();
        self.peak_rss_mib = self.peak_rss_mib.max(peak.unwrap_or(0.0));
        let queue = if case.pays() {
            let (depth, drained_in) = db::drain(&self.db, self.settings.drain_cap).await?;
            let inline = self.settle.made_during_run.load(Ordering::Relaxed);
            if inline > 0 {
                note = Some(format!("{inline} purchases billed during the run: the pool ran dry"));
            }
            Some(Queue { depth, drained_in })
        } else {
            None
        };
        Ok(Row {
            case: case.title().to_owned(),
            backend: self.backend,
            clients,
            baseline: Some((kind, baseline)),
            settle,
            unit: if case.pays() { "payments" } else { "req" },
            peak_rss_mib: peak,
            queue,
            note: note.filter(|n| !n.is_empty()),
        })
    }

    /// Bills enough purchases ahead that the case doesn't run dry: 1.5 × the rate last seen for
    /// this case (or 100/s) × the duration, plus one per client.
    async fn bill_ahead(&self, case: Case, clients: usize, report: &Report) -> Result<()> {
        let seen = self
            .settings
            .clients
            .iter()
            .filter_map(|&c| report.rate_of(case.title(), self.backend, c))
            .reduce(f64::max);
        let expected = seen.unwrap_or(100.0) * 1.5 * self.settings.duration.as_secs_f64();
        let want = (expected as usize + clients).min(20_000);
        let have = self.settle.owed_left();
        if want > have {
            let took = self.settle.bill_ahead(want - have).await?;
            println!(
                "# {}: billed {} purchases ahead through the merchant API in {:.1} s",
                self.backend,
                want - have,
                took.as_secs_f64()
            );
        }
        Ok(())
    }

    /// Logs every worker's browser in through the login form, 4 at a time (argon2 is meant to be
    /// slow).
    async fn log_in_all(&self, workers: &[Worker]) -> Result<()> {
        let results: Vec<Result<()>> = futures::stream::iter(workers)
            .map(|w| self.settle.log_in(w))
            .buffer_unordered(4)
            .collect()
            .await;
        results.into_iter().collect()
    }

    /// Makes sure converted payments of the kind `case` polls exist (when it runs alone).
    async fn ensure_payments(&self, case: Case) -> Result<()> {
        let maker = if case == Case::PollV1 { Case::Card } else { Case::ApiPay };
        let (v1, api) = self.settle.payments_made();
        let have = if case == Case::PollV1 { v1 } else { api };
        if have >= PAYMENTS_TO_POLL {
            return Ok(());
        }
        self.settle.bill_ahead(PAYMENTS_TO_POLL - have).await?;
        let op = self.op(maker);
        let worker = generator::plain_workers(1).remove(0);
        for _ in have..PAYMENTS_TO_POLL {
            op(worker.clone()).await?;
        }
        Ok(())
    }

    fn op(&self, case: Case) -> Op {
        let settle = self.settle.clone();
        Arc::new(move |w: Worker| {
            let settle = settle.clone();
            async move {
                match case {
                    Case::Card | Case::Seeded => settle.card_flow(&w).await,
                    Case::ApiPay => settle.api_payment(&w).await,
                    Case::PollV1 => settle.poll_quote_payment(&w).await,
                    Case::PollApi => settle.poll_payment(&w).await,
                    Case::Account => settle.page(&w, "/account").await,
                    Case::Login => settle.page(&w, "/login").await,
                }
            }
            .boxed()
        })
    }

    /// Seeds purchase lines, then runs the card flow again at the seed concurrency and compares.
    async fn seeded(&mut self, report: &mut Report) -> Result<()> {
        let clients = self.settings.seed_clients;
        let before = match report.rate_of(Case::Card.title(), self.backend, clients) {
            Some(rate) => rate,
            None => {
                let row = self.case(Case::Card, clients, report).await?;
                let rate = row.settle.rate();
                report.add(row);
                rate
            }
        };
        let lines_before = db::purchase_lines(&self.db).await?;
        let began = Instant::now();
        let added = db::seed_purchase_lines(&self.db, self.settings.seed_lines).await?;
        report.note(format!(
            "{}: seeded {added} purchase lines ({} purchases, policies; {lines_before} lines \
             before) in {:.0} s with bulk SQL",
            self.backend,
            added / 4,
            began.elapsed().as_secs_f64()
        ));
        tokio::time::sleep(Duration::from_secs(1)).await;
        let mut row = self.case(Case::Seeded, clients, report).await?;
        let after = row.settle.rate();
        row.case = format!("the same card flow after adding {added} purchase lines");
        let ratio = if before > 0.0 { after / before } else { 0.0 };
        let seeded_note = format!("{ratio:.2}× the rate before seeding");
        row.note = Some(match row.note.take() {
            Some(n) => format!("{seeded_note}; {n}"),
            None => seeded_note,
        });
        report.add(row);
        Ok(())
    }
}
