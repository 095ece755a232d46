//! `/admin/payments`: the admin's payment list. A GET filter form (works without script),
//! sortable columns, keyset pages (next / previous links carry an opaque cursor), totals of the
//! filtered set, and the same filters as a CSV download.

pub mod detail;

use http::request::Parts;
use leptos::prelude::*;
use serde::{Deserialize, Serialize};
use settle::account::Role;

use crate::PageError;
use crate::components::PageData;
use crate::layout::Layout;

/// The list page's path.
pub const PAYMENTS: &str = "/admin/payments";

/// One row of the list.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Row {
    /// The payment reference.
    pub reference: String,
    /// When it was created.
    pub created: String,
    /// The state's name and code (`PAYMENT_SUCCESS (6)`).
    pub state: String,
    /// The state's short name, for the badge's class.
    pub state_class: String,
    /// The amount with its currency.
    pub amount: String,
    /// The gateway's id.
    pub gateway: String,
    /// "VISA •••• 0006", for card payments.
    pub card: Option<String>,
    /// The customer's name.
    pub customer: String,
    /// The policy number / service id.
    pub service: String,
    /// The purchase's public reference (invoice id).
    pub purchase: Option<String>,
}

/// A select's option: value and label.
pub type Choice = (String, String);

/// What the list page shows.
#[derive(Clone, Debug, Serialize, Deserialize, Default)]
pub struct ListView {
    /// The rows of this page.
    pub rows: Vec<Row>,
    /// "12 payments", then one line per currency.
    pub totals: Vec<String>,
    /// How many payments match, over every currency.
    pub count: i64,
    /// The query of the next page, if any.
    pub next: Option<String>,
    /// The query of the previous page, if any.
    pub previous: Option<String>,
    /// The export link's query (same filters and order).
    pub export: String,
    /// The query of each column's sort link: created, amount.
    pub sort_created: String,
    /// See `sort_created`.
    pub sort_amount: String,
    /// The current order (`newest`…), for `aria-sort`.
    pub sort: String,
    /// The form's current values, by query key.
    pub values: Vec<(String, String)>,
    /// Per-field problems with the query.
    pub errors: Vec<(String, String)>,
    /// Options of the state select.
    pub states: Vec<Choice>,
    /// Options of the gateway select.
    pub gateways: Vec<Choice>,
    /// Options of the merchant select.
    pub merchants: Vec<Choice>,
    /// Options of the product select.
    pub products: Vec<Choice>,
}

impl ListView {
    fn value(&self, key: &str) -> String {
        self.values.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone()).unwrap_or_default()
    }

    fn error(&self, key: &str) -> Option<String> {
        self.errors.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone())
    }
}

/// A core error as the admin's pages show it.
pub(crate) fn page_error(what: &'static str) -> impl Fn(settle::Error) -> PageError {
    move |e| match e {
        settle::Error::Forbidden => PageError::forbidden("Your account can't do this."),
        settle::Error::NotFound(thing) => PageError::not_found(format!("No such {thing}.")),
        settle::Error::Validation(errors) => PageError::bad_request(
            errors.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "),
        ),
        other => PageError::logged(what)(other),
    }
}

/// One page of payments for the list's query string; admins only.
#[server(prefix = "/admin/api", endpoint = "payments")]
pub async fn admin_payments(query: String) -> Result<ListView, PageError> {
    use settle::access::Viewer;
    use settle::payment::PaymentState;
    use settle::payment::search::{self, ListQuery, Sort};

    use crate::format::date_time;

    let user = crate::auth::require(Role::Admin)?;
    let ctx = crate::context::page_context()?;
    let viewer = Viewer::of_user(&user).map_err(page_error("payment list"))?;
    let choices = search::choices(&ctx.db, &viewer).await.map_err(page_error("payment list"))?;
    let values: Vec<(String, String)> = serde_urlencoded_pairs(&query)
        .into_iter()
        .filter(|(k, _)| search::QUERY_KEYS.contains(&k.as_str()))
        .collect();
    let mut view = ListView {
        values,
        states: PaymentState::ALL
            .into_iter()
            .map(|s| (s.code().to_string(), format!("{} ({})", s.name(), s.code())))
            .collect(),
        gateways: choices.gateways,
        merchants: choices.merchants,
        products: choices.products,
        ..ListView::default()
    };
    let parsed = match ListQuery::from_query(&query) {
        Ok(parsed) => parsed,
        Err(settle::Error::Validation(errors)) => {
            view.errors = errors.into_iter().map(|e| (e.field, e.message)).collect();
            return Ok(view);
        }
        Err(e) => return Err(page_error("payment list")(e)),
    };
    let page = match search::list(&ctx.db, &viewer, &parsed).await {
        Ok(page) => page,
        Err(settle::Error::Validation(errors)) => {
            view.errors = errors.into_iter().map(|e| (e.field, e.message)).collect();
            return Ok(view);
        }
        Err(e) => return Err(page_error("payment list")(e)),
    };
    let totals = search::totals(&ctx.db, &viewer, &parsed.filter)
        .await
        .map_err(page_error("payment totals"))?;
    let sort = parsed.sort;
    view.count = totals.iter().map(|t| t.count).sum();
    view.totals = totals
        .iter()
        .map(|t| {
            let noun = if t.count == 1 { "payment" } else { "payments" };
            format!("{}: {} {noun}, {}", t.sum.currency().code(), t.count, t.sum.display())
        })
        .collect();
    view.next = page.next.map(|c| parsed.to_query(sort, &[("after", &c)]));
    view.previous = page.previous.map(|c| parsed.to_query(sort, &[("before", &c)]));
    view.export = parsed.to_query(sort, &[]);
    let toggle = |a: Sort, b: Sort| parsed.to_query(if sort == a { b } else { a }, &[]);
    view.sort_created = toggle(Sort::Newest, Sort::Oldest);
    view.sort_amount = toggle(Sort::AmountDesc, Sort::AmountAsc);
    view.sort = sort.as_str().to_owned();
    view.rows = page
        .rows
        .into_iter()
        .map(|p| Row {
            created: date_time(p.created_at),
            state: format!("{} ({})", p.state.name(), p.state.code()),
            state_class: p.state.name().to_ascii_lowercase(),
            amount: p.amount.display().to_string(),
            gateway: p.gateway_id,
            card: p
                .card_last4
                .map(|l| format!("{} •••• {l}", p.card_brand.unwrap_or_else(|| "Card".into()))),
            customer: p.customer_name.unwrap_or(p.customer_id),
            service: p.service_reference,
            purchase: p.purchase_reference,
            reference: p.reference,
        })
        .collect();
    Ok(view)
}

/// The query's pairs (bad encodings read as nothing).
fn serde_urlencoded_pairs(query: &str) -> Vec<(String, String)> {
    url::form_urlencoded::parse(query.as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

/// The request's raw query string (the page is rendered on the server).
pub(crate) fn raw_query() -> String {
    use_context::<Parts>().and_then(|p| p.uri.query().map(str::to_owned)).unwrap_or_default()
}

/// The admin's payment list.
#[component]
pub fn PaymentsPage() -> impl IntoView {
    let query = raw_query();
    view! {
        <Layout title="Payments".into()>
            <h1>"Payments"</h1>
            <PageData heading="Payments" load=admin_payments(query) let:v>
                <PaymentList v />
            </PageData>
        </Layout>
    }
}

/// A select of `choices` named `name`, with "Any" first and the current value selected.
fn select(
    name: &'static str,
    label: &'static str,
    choices: Vec<Choice>,
    current: String,
) -> impl IntoView {
    view! {
        <label class="field">
            <span>{label}</span>
            <select name=name>
                <option value="">"Any"</option>
                {choices
                    .into_iter()
                    .map(|(value, text)| {
                        let selected = value == current;
                        view! { <option value=value selected=selected>{text}</option> }
                    })
                    .collect_view()}
            </select>
        </label>
    }
}

/// A text input named `name` with its current value and its problem, if any.
fn input(
    name: &'static str,
    label: &'static str,
    kind: &'static str,
    v: &ListView,
) -> impl IntoView + use<> {
    let error = v.error(name);
    let id = format!("f-{name}");
    let error_id = format!("{id}-error");
    let described = error.as_ref().map(|_| error_id.clone());
    let for_id = id.clone();
    let invalid = error.as_ref().map(|_| "true");
    let value = v.value(name);
    view! {
        <label class="field" for=for_id>
            <span>{label}</span>
            <input id=id type=kind name=name value=value aria-invalid=invalid aria-describedby=described />
            {error.map(|e| view! { <span class="field-error" id=error_id>{e}</span> })}
        </label>
    }
}

#[component]
fn PaymentList(v: ListView) -> impl IntoView {
    let sort_errors: Vec<String> = ["state", "sort", "after", "before", "query", "currency"]
        .into_iter()
        .filter_map(|k| v.error(k))
        .collect();
    let aria = |col: &str| match (col, v.sort.as_str()) {
        ("created", "newest") | ("amount", "amount_desc") => Some("descending"),
        ("created", "oldest") | ("amount", "amount_asc") => Some("ascending"),
        _ => None,
    };
    let created_aria = aria("created");
    let amount_aria = aria("amount");
    let sort_created = format!("{PAYMENTS}?{}", v.sort_created);
    let sort_amount = format!("{PAYMENTS}?{}", v.sort_amount);
    let export = format!("{PAYMENTS}/export.csv?{}", v.export);
    let empty = v.rows.is_empty();
    let count = v.count;
    view! {
        <form method="get" action=PAYMENTS class="filters" role="search">
            {input("q", "Search (payment, policy / service, merchant reference, invoice, order, card last four)", "search", &v)}
            {select("state", "State", v.states.clone(), v.value("state"))}
            {select("gateway", "Gateway", v.gateways.clone(), v.value("gateway"))}
            {select("merchant", "Merchant", v.merchants.clone(), v.value("merchant"))}
            {select("product", "Product", v.products.clone(), v.value("product"))}
            {input("customer", "Customer (id, code or email)", "text", &v)}
            {input("currency", "Currency", "text", &v)}
            {input("from", "Created from", "date", &v)}
            {input("to", "Created to", "date", &v)}
            {input("min", "Amount at least", "text", &v)}
            {input("max", "Amount at most", "text", &v)}
            <input type="hidden" name="sort" value=v.value("sort") />
            <div class="filter-actions">
                <button type="submit">"Filter"</button>
                <a href=PAYMENTS>"Clear filters"</a>
            </div>
        </form>
        {(!sort_errors.is_empty()).then(|| view! {
            <p class="flash error" role="alert">{sort_errors.join(" ")}</p>
        })}
        <section class="totals" aria-label="Totals">
            <p><strong>{if count == 1 { "1 payment matches".to_owned() } else { format!("{count} payments match") }}</strong></p>
            <ul>{v.totals.iter().map(|t| view! { <li>{t.clone()}</li> }).collect_view()}</ul>
            <p><a class="button" href=export download="">"Download CSV"</a></p>
        </section>
        {if empty {
            view! { <p class="muted">"No payments match these filters."</p> }.into_any()
        } else {
            view! {
                <div class="table-scroll">
                    <table class="list payments">
                        <thead>
                            <tr>
                                <th scope="col">"Reference"</th>
                                <th scope="col" aria-sort=created_aria><a href=sort_created>"Created"</a></th>
                                <th scope="col">"Customer"</th>
                                <th scope="col">"Policy / service"</th>
                                <th scope="col">"Gateway"</th>
                                <th scope="col">"Card"</th>
                                <th scope="col">"State"</th>
                                <th scope="col" class="num" aria-sort=amount_aria><a href=sort_amount>"Amount"</a></th>
                            </tr>
                        </thead>
                        <tbody>
                            {v.rows.into_iter().map(|r| {
                                let href = format!("{PAYMENTS}/{}", r.reference);
                                view! {
                                    <tr>
                                        <td><a href=href>{r.reference}</a></td>
                                        <td>{r.created}</td>
                                        <td>{r.customer}</td>
                                        <td>{r.service}</td>
                                        <td>{r.gateway}</td>
                                        <td>{r.card.unwrap_or_default()}</td>
                                        <td><span class=format!("state state-{}", r.state_class)>{r.state}</span></td>
                                        <td class="num">{r.amount}</td>
                                    </tr>
                                }
                            }).collect_view()}
                        </tbody>
                    </table>
                </div>
            }.into_any()
        }}
        <nav class="pager" aria-label="Pages">
            {v.previous.map(|q| view! { <a rel="prev" href=format!("{PAYMENTS}?{q}")>"← Previous page"</a> })}
            {v.next.map(|q| view! { <a rel="next" href=format!("{PAYMENTS}?{q}")>"Next page →"</a> })}
        </nav>
    }
}
