//! The admin's jobs page, `/admin/jobs`: the durable job queue — how many jobs of each kind
//! are waiting, running, done and failed, the job waiting longest, and the failures with their
//! last error (newest first, keyset-paged), each with "Retry now" (a plain form).

use leptos::prelude::*;
use leptos_router::hooks::use_query_map;
use serde::{Deserialize, Serialize};
use settle::account::Role;

use crate::PageError;
use crate::components::{PageData, SubmitButton};
use crate::layout::Layout;

/// The page's path.
pub const JOBS: &str = "/admin/jobs";

/// One kind's counts.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct KindRow {
    /// The job kind.
    pub kind: String,
    /// Waiting.
    pub pending: i64,
    /// Running.
    pub running: i64,
    /// Done.
    pub done: i64,
    /// Failed.
    pub failed: i64,
    /// When the earliest waiting one is due.
    pub next_due: Option<String>,
}

/// One job in a list.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct JobRow {
    /// Its id.
    pub id: String,
    /// Its kind.
    pub kind: String,
    /// "3 of 3".
    pub attempts: String,
    /// When it was due.
    pub due: String,
    /// When it last changed (failed).
    pub changed: String,
    /// The last error.
    pub last_error: Option<String>,
    /// The payload (JSON).
    pub payload: String,
}

/// What the jobs page shows.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct JobsView {
    /// Counts per kind.
    pub kinds: Vec<KindRow>,
    /// The job waiting longest, if any is due.
    pub oldest_waiting: Option<JobRow>,
    /// A page of failures.
    pub failures: Vec<JobRow>,
    /// The query of the next (older) page of failures, if there may be one.
    pub older: Option<String>,
}

/// The queue; admins only. `after_at`/`after_id` continue the failures after that one.
#[server(prefix = "/admin/api", endpoint = "jobs")]
pub async fn load_jobs(
    after_at: Option<String>,
    after_id: Option<String>,
) -> Result<JobsView, PageError> {
    use settle::job::JobStatus;
    use settle::job::report::{self, Cursor, JobLine};

    use crate::format::date_time;

    let user = crate::auth::require(Role::Admin)?;
    let viewer = settle::access::Viewer::of_user(&user)
        .map_err(|_| PageError::forbidden("Your account can't do this."))?;
    let ctx = crate::context::page_context()?;
    let cursor = match (after_at.filter(|a| !a.is_empty()), after_id.filter(|i| !i.is_empty())) {
        (Some(at), Some(id)) => {
            let at = chrono::DateTime::parse_from_rfc3339(&at)
                .map_err(|_| PageError::bad_request("That page link is not valid."))?;
            Some(Cursor { at: at.to_utc(), id: settle::job::JobId::from_string(id) })
        }
        _ => None,
    };
    let counts = report::counts_by_kind(&ctx.db, &viewer)
        .await
        .map_err(PageError::logged("counting jobs"))?;
    let mut kinds: Vec<KindRow> = Vec::new();
    for c in counts {
        if kinds.last().is_none_or(|k| k.kind != c.kind) {
            kinds.push(KindRow { kind: c.kind.clone(), ..KindRow::default() });
        }
        let Some(row) = kinds.last_mut() else { continue };
        match c.status {
            JobStatus::Pending => {
                row.pending = c.count;
                row.next_due = c.earliest_run_at.map(date_time);
            }
            JobStatus::Running => row.running = c.count,
            JobStatus::Done => row.done = c.count,
            JobStatus::Failed => row.failed = c.count,
        }
    }
    let line = |j: JobLine| JobRow {
        id: j.id.to_string(),
        kind: j.kind,
        attempts: format!("{} of {}", j.attempts, j.max_attempts),
        due: date_time(j.run_at),
        changed: date_time(j.updated_at),
        last_error: j.last_error,
        payload: j.payload,
    };
    let oldest = report::oldest_waiting(&ctx.db, &viewer, chrono::Utc::now())
        .await
        .map_err(PageError::logged("finding the oldest waiting job"))?;
    let failures = report::failures(&ctx.db, &viewer, cursor.as_ref(), report::PAGE_SIZE)
        .await
        .map_err(PageError::logged("listing failed jobs"))?;
    let older =
        (failures.len() as i64 == report::PAGE_SIZE).then(|| failures.last()).flatten().map(|j| {
            let at = j.updated_at.to_rfc3339_opts(chrono::SecondsFormat::Nanos, true);
            format!(
                "after_at={}&after_id={}",
                crate::pages::admin::webhooks::urlencode(&at),
                crate::pages::admin::webhooks::urlencode(j.id.as_str())
            )
        });
    Ok(JobsView {
        kinds,
        oldest_waiting: oldest.map(line),
        failures: failures.into_iter().map(line).collect(),
        older,
    })
}

/// Puts a failed job back in the queue, due now, audited; back to the jobs page.
#[server(prefix = "/admin/api", endpoint = "retry_job")]
pub async fn retry_job(job: String) -> Result<(), PageError> {
    use crate::flash::{Flash, redirect_with};

    let (user, actor) = crate::auth::actor(Role::Admin)?;
    let viewer = settle::access::Viewer::of_user(&user)
        .map_err(|_| PageError::forbidden("Your account can't do this."))?;
    let ctx = crate::context::page_context()?;
    let id = settle::job::JobId::from_string(job.trim());
    let flash = match settle::job::report::retry_now(&ctx.db, &viewer, &actor, &id).await {
        Ok(()) => Flash::success(format!("Job {id} is back in the queue, due now.")),
        Err(settle::Error::NotFound(_)) => {
            return Err(PageError::not_found("There is no such job."));
        }
        Err(settle::Error::Conflict(why)) => Flash::error(format!("Not retried: {why}.")),
        Err(e) => return Err(PageError::logged("retrying a job")(e)),
    };
    redirect_with(flash, JOBS).await
}

/// The jobs page.
#[component]
pub fn JobsPage() -> impl IntoView {
    let (after_at, after_id) =
        use_query_map().with_untracked(|q| (q.get("after_at"), q.get("after_id")));
    view! {
        <Layout title="Jobs".into()>
            <h1>"Jobs"</h1>
            <PageData heading="Jobs" load=load_jobs(after_at, after_id) let:view>
                <Jobs view />
            </PageData>
        </Layout>
    }
}

#[component]
fn Jobs(view: JobsView) -> impl IntoView {
    let kinds = view
        .kinds
        .into_iter()
        .map(|k| {
            view! {
                <tr>
                    <th scope="row" data-label="Kind"><code>{k.kind}</code></th>
                    <td data-label="Waiting">{k.pending}</td>
                    <td data-label="Running">{k.running}</td>
                    <td data-label="Done">{k.done}</td>
                    <td data-label="Failed">{k.failed}</td>
                    <td data-label="Next due">{k.next_due.unwrap_or_else(|| "—".into())}</td>
                </tr>
            }
        })
        .collect_view();
    let oldest = match view.oldest_waiting {
        Some(j) => view! {
            <p>"Waiting longest: " <code>{j.kind}</code> {format!(", due since {} (attempts {})", j.due, j.attempts)}</p>
        }
        .into_any(),
        None => view! { <p>"No job is waiting past its time."</p> }.into_any(),
    };
    let no_failures = view.failures.is_empty();
    let failures = view.failures.into_iter().map(|j| view! { <FailureRow j /> }).collect_view();
    let older = view.older.map(|q| {
        view! { <p class="pager"><a href=format!("{JOBS}?{q}") rel="next">"Older failures"</a></p> }
    });
    view! {
        <section class="card">
            <h2>"Queue"</h2>
            {oldest}
            <div class="table-scroll">
                <table class="list reflow job-counts">
                    <thead><tr><th>"Kind"</th><th>"Waiting"</th><th>"Running"</th><th>"Done"</th><th>"Failed"</th><th>"Next due"</th></tr></thead>
                    <tbody>{kinds}</tbody>
                </table>
            </div>
        </section>
        <section class="card">
            <h2>"Failures"</h2>
            {no_failures.then(|| view! { <p>"No job has failed."</p> })}
            <div class="table-scroll" hidden=no_failures>
                <table class="list reflow job-failures">
                    <thead><tr><th>"Kind"</th><th>"Job"</th><th>"Attempts"</th><th>"Failed at"</th><th>"Last error"</th><th>""</th></tr></thead>
                    <tbody>{failures}</tbody>
                </table>
            </div>
            {older}
        </section>
    }
}

/// One failed job, with its payload folded away and "Retry now".
#[component]
fn FailureRow(j: JobRow) -> impl IntoView {
    let retry = ServerAction::<RetryJob>::new();
    view! {
        <tr>
            <td data-label="Kind"><code>{j.kind}</code></td>
            <td data-label="Job">
                <details><summary><code>{j.id.clone()}</code></summary><pre class="body">{j.payload}</pre></details>
            </td>
            <td data-label="Attempts">{j.attempts}</td>
            <td data-label="Failed at">{j.changed}</td>
            <td data-label="Last error">{j.last_error.unwrap_or_else(|| "—".into())}</td>
            <td class="action">
                <ActionForm action=retry>
                    <input type="hidden" name="job" value=j.id />
                    <SubmitButton label="Retry now" busy="Retrying…" class="secondary small" />
                </ActionForm>
            </td>
        </tr>
    }
}
