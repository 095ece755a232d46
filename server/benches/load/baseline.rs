//! The bare baseline: a minimal axum server in the bench process on the same database with
//! Settle's pool settings (`Db::connect`, same pool size), with one handler doing one durable
//! INSERT (one row per request) and one doing one primary-key SELECT. It is what the hardware and
//! database give an HTTP request that does one query and nothing else.

use std::sync::Arc;

use anyhow::{Context, Result, ensure};
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use futures::FutureExt;
use settle::db::Db;

use crate::generator::{Op, Worker};

/// Rows the SELECT handler picks from.
const SELECT_ROWS: usize = 1000;

/// The payload each row carries (about a payment row's size).
const PAYLOAD: &str = "{\"amount_minor\":5134,\"currency\":\"GBP\",\"state\":\"POLICY_CONVERTED\",\"gateway\":\"sagepay-gbp\",\"card\":{\"brand\":\"VISA\",\"last4\":\"0006\"},\"note\":\"a bare baseline row of roughly the size of a payment\"}";

#[derive(Clone)]
struct Baseline {
    db: Db,
    ids: Arc<Vec<String>>,
}

/// The baseline server, listening on a loopback port.
pub struct BaselineServer {
    /// `http://127.0.0.1:{port}`.
    pub base: String,
    task: tokio::task::JoinHandle<()>,
}

impl BaselineServer {
    /// Creates the bench table on `database_url`, fills the rows the SELECT reads, and serves.
    pub async fn start(database_url: &str, pool_size: u32) -> Result<BaselineServer> {
        let db = Db::connect(database_url, pool_size).await?;
        settle::with_db!(&db, pool => sqlx::query(
            "CREATE TABLE IF NOT EXISTS bench_baseline (id TEXT PRIMARY KEY, payload TEXT NOT NULL)"
        ).execute(pool).await.map(|_| ()))?;
        let mut ids = Vec::with_capacity(SELECT_ROWS);
        for _ in 0..SELECT_ROWS {
            ids.push(insert(&db).await?);
        }
        let state = Baseline { db, ids: Arc::new(ids) };
        let app = Router::new()
            .route("/insert", post(insert_handler))
            .route("/select", get(select_handler))
            .with_state(state);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let base = format!("http://{}", listener.local_addr()?);
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(BaselineServer { base, task })
    }

    /// `POST /insert`: one durable INSERT per request.
    pub fn insert_op(&self) -> Op {
        let url = format!("{}/insert", self.base);
        Arc::new(move |w: Worker| {
            let url = url.clone();
            async move { expect_ok(w.client.post(url).send().await?).await }.boxed()
        })
    }

    /// `GET /select`: one primary-key SELECT per request.
    pub fn select_op(&self) -> Op {
        let url = format!("{}/select", self.base);
        Arc::new(move |w: Worker| {
            let url = url.clone();
            async move { expect_ok(w.client.get(url).send().await?).await }.boxed()
        })
    }

    /// Stops serving.
    pub fn stop(self) {
        self.task.abort();
    }
}

async fn expect_ok(response: reqwest::Response) -> Result<()> {
    let status = response.status();
    response.bytes().await?;
    ensure!(status == 200, "baseline answered {status}");
    Ok(())
}

async fn insert(db: &Db) -> Result<String> {
    let id = uuid::Uuid::now_v7().to_string();
    settle::with_db!(db, pool => sqlx::query("INSERT INTO bench_baseline (id, payload) VALUES ($1, $2)")
        .bind(&id).bind(PAYLOAD).execute(pool).await.map(|_| ()))?;
    Ok(id)
}

/// A failure answers 500, so the generator counts it.
type Answer = Result<String, (StatusCode, String)>;

fn failed(e: impl std::fmt::Display) -> (StatusCode, String) {
    (StatusCode::INTERNAL_SERVER_ERROR, e.to_string())
}

async fn insert_handler(State(state): State<Baseline>) -> Answer {
    insert(&state.db).await.map_err(failed)
}

async fn select_handler(State(state): State<Baseline>) -> Answer {
    let id = &state.ids[rand::random::<usize>() % state.ids.len()];
    let found: Option<String> = settle::with_db!(&state.db, pool => sqlx::query_scalar(
        "SELECT payload FROM bench_baseline WHERE id = $1"
    ).bind(id).fetch_optional(pool).await)
    .map_err(failed)?;
    found.context("row missing").map_err(failed)
}
