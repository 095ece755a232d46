//! `/admin/audit`: the append-only audit log, newest first, a page at a time (keyset paging on
//! the entry id, so any page costs the same), filtered by subject (`payment:PAY-…`).

use leptos::prelude::*;
use leptos_router::hooks::use_query_map;
use serde::{Deserialize, Serialize};
use settle::account::Role;

use crate::PageError;
use crate::components::PageData;
use crate::layout::Layout;

/// Entries per page.
pub const PAGE_SIZE: i64 = 50;

/// One line of the log as the page shows it.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct AuditLine {
    /// Its id.
    pub id: i64,
    /// When.
    pub at: String,
    /// Who.
    pub actor: String,
    /// From which address.
    pub address: String,
    /// What.
    pub action: String,
    /// To what.
    pub subject: String,
    /// A link to the subject, if it has a page.
    pub subject_href: Option<String>,
    /// The details.
    pub detail: String,
}

/// A page of the log.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct AuditView {
    /// The subject filtered by, if any.
    pub subject: Option<String>,
    /// The entries, newest first.
    pub entries: Vec<AuditLine>,
    /// The link to the next (older) page, if there is one.
    pub older: Option<String>,
}

/// A page of the audit log, for admins.
#[server(prefix = "/admin/api", endpoint = "audit_log")]
pub async fn load_audit_log(
    subject: Option<String>,
    before: Option<i64>,
) -> Result<AuditView, PageError> {
    use super::payment_actions::payment_href;

    crate::auth::require(Role::Admin)?;
    let ctx = crate::context::page_context()?;
    let subject = subject.map(|s| s.trim().to_owned()).filter(|s| !s.is_empty());
    // One more than a page tells whether an older page exists.
    let mut entries = settle::audit::page(&ctx.db, subject.as_deref(), before, PAGE_SIZE + 1)
        .await
        .map_err(PageError::logged("loading the audit log"))?;
    let more = entries.len() as i64 > PAGE_SIZE;
    entries.truncate(PAGE_SIZE as usize);
    let older = match (more, entries.last()) {
        (true, Some(last)) => Some(audit_page_href(subject.as_deref(), Some(last.id))),
        _ => None,
    };
    let entries = entries
        .into_iter()
        .map(|e| AuditLine {
            id: e.id,
            at: crate::format::date_time(e.at),
            subject_href: e.subject.strip_prefix("payment:").map(payment_href),
            actor: e.actor,
            address: e.address,
            action: e.action,
            subject: e.subject,
            detail: e.detail,
        })
        .collect();
    Ok(AuditView { subject, entries, older })
}

/// The log's address, filtered by `subject`, from before entry `before`.
pub fn audit_page_href(subject: Option<&str>, before: Option<i64>) -> String {
    let mut query = url::form_urlencoded::Serializer::new(String::new());
    if let Some(subject) = subject {
        query.append_pair("subject", subject);
    }
    if let Some(before) = before {
        query.append_pair("before", &before.to_string());
    }
    let query = query.finish();
    if query.is_empty() { "/admin/audit".to_owned() } else { format!("/admin/audit?{query}") }
}

/// The audit log page.
#[component]
pub fn AuditPage() -> impl IntoView {
    let (subject, before) = use_query_map().with_untracked(|q| {
        (q.get("subject"), q.get("before").and_then(|b| b.trim().parse::<i64>().ok()))
    });
    view! {
        <Layout title="Audit log".into()>
            <h1>"Audit log"</h1>
            <p class="muted">"Every action staff take, with who, when and from which address. Entries are never changed or removed."</p>
            <PageData heading="Audit log" load=load_audit_log(subject, before) let:view>
                <AuditBody view />
            </PageData>
        </Layout>
    }
}

#[component]
fn AuditBody(view: AuditView) -> impl IntoView {
    let rows = view
        .entries
        .iter()
        .cloned()
        .map(|e| {
            let subject = match e.subject_href {
                Some(href) => view! { <a href=href><code>{e.subject}</code></a> }.into_any(),
                None => view! { <code>{e.subject}</code> }.into_any(),
            };
            view! {
                <tr>
                    <td>{e.at}</td>
                    <td>{e.actor}</td>
                    <td><code>{e.address}</code></td>
                    <td><code>{e.action}</code></td>
                    <td>{subject}</td>
                    <td>{e.detail}</td>
                </tr>
            }
        })
        .collect_view();
    let table = if view.entries.is_empty() {
        view! { <p>"No entries."</p> }.into_any()
    } else {
        view! {
            <div class="table-scroll">
                <table class="list audit">
                    <thead><tr>
                        <th scope="col">"When"</th><th scope="col">"Who"</th><th scope="col">"From"</th>
                        <th scope="col">"What"</th><th scope="col">"Subject"</th><th scope="col">"Details"</th>
                    </tr></thead>
                    <tbody>{rows}</tbody>
                </table>
            </div>
        }
        .into_any()
    };
    let first = view.subject.as_ref().map(|s| {
        view! { <a href=audit_page_href(Some(s), None)>"Newest"</a> " · " <a href="/admin/audit">"All subjects"</a> }
    });
    view! {
        <form method="get" action="/admin/audit" class="filters">
            <div class="field">
                <label for="subject">"Subject"</label>
                <small class="hint" id="subject-hint">"Such as payment:PAY-… or product:FIBRE-20-10"</small>
                <input type="text" id="subject" name="subject" value=view.subject.clone().unwrap_or_default() aria-describedby="subject-hint" />
            </div>
            <button type="submit">"Filter"</button>
        </form>
        {table}
        <nav class="pager" aria-label="Pages">
            {first}
            {view.older.map(|href| view! { " " <a href=href rel="next">"Older entries"</a> })}
        </nav>
    }
}
