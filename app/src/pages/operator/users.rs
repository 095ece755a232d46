//! The operator's users, `/operator/users`: every account, a form that opens one (admin,
//! operator, or customer with their customer record) and a button that disables one (it can't
//! log in any more, its sessions end on their next request and its API tokens at once).

use leptos::prelude::*;
use serde::{Deserialize, Serialize};
use settle::account::Role;

use crate::PageError;
use crate::components::{PageData, SubmitButton, TextField};
use crate::layout::Layout;
use crate::pages::operator::merchants::form::Kept;

/// The users page's path.
pub const USERS: &str = "/operator/users";

/// The most accounts the page lists.
const LIMIT: i64 = 500;

/// The create form's name and fields in page order.
const CREATE_FORM: &str = "user-create";
const CREATE_FIELDS: &[&str] = &["role", "email", "display_name", "password", "customer_code"];

/// One account in the list.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct UserLine {
    /// Its id.
    pub id: String,
    /// Login email.
    pub email: String,
    /// Display name.
    pub name: String,
    /// Role in words.
    pub role: String,
    /// "Active" or "Disabled on …".
    pub status: String,
    /// Whether the operator may disable it (active, and not themselves).
    pub can_disable: bool,
}

/// What the users page shows.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct UsersView {
    /// The accounts, by email.
    pub users: Vec<UserLine>,
    /// Whether there are more than the page lists.
    pub more: bool,
    /// The create form after a problem.
    pub kept: Kept,
}

fn role_words(role: Role) -> &'static str {
    match role {
        Role::Customer => "Customer",
        Role::Admin => "Admin",
        Role::Operator => "Operator",
        Role::MerchantApi => "Merchant API login",
    }
}

/// The accounts; operators only.
#[server(prefix = "/operator/api", endpoint = "users")]
pub async fn load_users() -> Result<UsersView, PageError> {
    let me = crate::auth::require(Role::Operator)?;
    let ctx = crate::context::page_context()?;
    let mut users = settle::account::User::list(&ctx.db, LIMIT + 1)
        .await
        .map_err(PageError::logged("listing users"))?;
    let more = users.len() as i64 > LIMIT;
    users.truncate(LIMIT as usize);
    Ok(UsersView {
        users: users
            .into_iter()
            .map(|u| UserLine {
                can_disable: u.disabled_at.is_none() && u.id != me.id,
                status: match u.disabled_at {
                    Some(at) => format!("Disabled on {}", crate::format::long_date(at)),
                    None => "Active".to_owned(),
                },
                id: u.id.to_string(),
                email: u.email.to_string(),
                name: u.display_name,
                role: role_words(u.role).to_owned(),
            })
            .collect(),
        more,
        kept: crate::pages::operator::merchants::form::take().await?,
    })
}

/// Opens an account; a problem comes back to the form with a message per field.
#[server(prefix = "/operator/api", endpoint = "user_create")]
pub async fn create_user(
    role: String,
    email: String,
    display_name: Option<String>,
    password: String,
    customer_code: Option<String>,
) -> Result<(), PageError> {
    use settle::account::manage::{self, UserEntry};

    use crate::flash::{Flash, redirect_with};
    use crate::pages::operator::merchants::form::{KeptForm, correct_message, field_errors, keep};

    let (_, actor) = crate::auth::actor(Role::Operator)?;
    let ctx = crate::context::page_context()?;
    let entry = UserEntry {
        role,
        email,
        display_name: display_name.unwrap_or_default(),
        password,
        customer_code: customer_code.unwrap_or_default(),
    };
    // Never the password.
    let values = vec![
        ("role".to_owned(), entry.role.clone()),
        ("email".to_owned(), entry.email.clone()),
        ("display_name".to_owned(), entry.display_name.clone()),
        ("customer_code".to_owned(), entry.customer_code.clone()),
    ];
    match manage::create_user(&ctx.db, &actor, entry).await {
        Ok(user) => {
            let message = format!(
                "{} can now log in as {}.",
                user.email,
                role_words(user.role).to_lowercase()
            );
            redirect_with(Flash::success(message), USERS).await
        }
        Err(settle::Error::Validation(errors)) => {
            let errors = field_errors(errors, &[]);
            let message = correct_message(errors.len());
            keep(KeptForm { form: CREATE_FORM.into(), values, errors }).await?;
            redirect_with(Flash::error(message), USERS).await
        }
        Err(e) => Err(PageError::logged("opening an account")(e)),
    }
}

/// Disables an account: no more logins, its sessions and API tokens end at once.
#[server(prefix = "/operator/api", endpoint = "user_disable")]
pub async fn disable_user(id: String) -> Result<(), PageError> {
    use settle::account::UserId;

    use crate::flash::{Flash, redirect_with};

    let (_, actor) = crate::auth::actor(Role::Operator)?;
    let ctx = crate::context::page_context()?;
    let id = UserId::from_string(id.trim());
    let flash = match settle::account::manage::disable_user(&ctx.db, &actor, &id).await {
        Ok(user) => Flash::success(format!(
            "{} is disabled: their sessions and API tokens have ended and they can't log in.",
            user.email
        )),
        Err(settle::Error::NotFound(_)) => Flash::error("We can't find that account."),
        Err(settle::Error::Conflict(_)) => Flash::notice("That account was already disabled."),
        Err(settle::Error::Validation(_)) => {
            Flash::error("You can't disable your own account: ask another operator.")
        }
        Err(e) => return Err(PageError::logged("disabling an account")(e)),
    };
    redirect_with(flash, USERS).await
}

/// The users page.
#[component]
pub fn UsersPage() -> impl IntoView {
    view! {
        <Layout title="Users".into()>
            <PageData heading="Users" load=load_users() let:view>
                <Users view />
            </PageData>
        </Layout>
    }
}

#[component]
fn Users(view: UsersView) -> impl IntoView {
    let disable = ServerAction::<DisableUser>::new();
    let rows = view
        .users
        .into_iter()
        .map(|u| {
            let action = u.can_disable.then(|| {
                let label = format!("Disable {}", u.email);
                view! {
                    <ActionForm action=disable attr:class="inline">
                        <input type="hidden" name="id" value=u.id.clone() />
                        <button type="submit" class="secondary" aria-label=label data-busy="Disabling…">"Disable"</button>
                    </ActionForm>
                }
            });
            view! {
                <tr>
                    <td><code>{u.email}</code></td>
                    <td>{u.name}</td>
                    <td>{u.role}</td>
                    <td>{u.status}</td>
                    <td>{action}</td>
                </tr>
            }
        })
        .collect_view();
    view! {
        <h1>"Users"</h1>
        <p class="lead">"Everyone who can log in. Disabling an account ends its sessions and API tokens at once."</p>
        <div class="table-scroll">
            <table class="list">
                <thead><tr><th>"Email"</th><th>"Name"</th><th>"Role"</th><th>"Status"</th><th>"Action"</th></tr></thead>
                <tbody>{rows}</tbody>
            </table>
        </div>
        {view.more.then(|| view! { <p class="muted">{format!("Only the first {LIMIT} accounts by email are listed.")}</p> })}
        <CreateUser kept=view.kept />
    }
}

#[component]
fn CreateUser(kept: Kept) -> impl IntoView {
    let create = ServerAction::<CreateUser>::new();
    let form = kept.of(CREATE_FORM);
    let focus = form.errors.first_of(CREATE_FIELDS);
    let first = move |field: &str| focus == Some(field);
    let chosen = form.value("role");
    let role_error = form.error("role");
    let options = [("operator", "Operator"), ("admin", "Admin"), ("customer", "Customer")]
        .into_iter()
        .map(|(value, words)| view! { <option value=value selected=chosen == value>{words}</option> })
        .collect_view();
    let class = if role_error.is_some() { "field invalid" } else { "field" };
    view! {
        <section class="card">
            <h2>"Open an account"</h2>
            <ActionForm action=create attr:class="console-form">
                <div class=class>
                    <label for="role">"Role"</label>
                    <select id="role" name="role" autofocus=first("role")
                        aria-invalid=role_error.as_ref().map(|_| "true")>{options}</select>
                    {role_error.clone().map(|e| view! { <span class="field-error" id="role-error">"Role " {e} "."</span> })}
                </div>
                <TextField label="Email" name="email" value=form.value("email") error=form.error("email")
                    autofocus=first("email") kind="email" autocomplete="off" required=true />
                <TextField label="Name" name="display_name" value=form.value("display_name")
                    error=form.error("display_name") autofocus=first("display_name") autocomplete="off"
                    hint="How pages greet them; the email if empty." />
                <TextField label="Password" name="password" error=form.error("password")
                    autofocus=first("password") kind="password" autocomplete="new-password" required=true
                    hint="At least 10 characters; tell it to them over a safe channel." />
                <TextField label="Customer code" name="customer_code" value=form.value("customer_code")
                    error=form.error("customer_code") autofocus=first("customer_code") autocomplete="off"
                    hint="Customers only: the code merchants know them by. Made for you if empty." />
                <SubmitButton label="Open the account" busy="Opening…" />
            </ActionForm>
        </section>
    }
}
