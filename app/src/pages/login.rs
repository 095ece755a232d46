//! The login page.

use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

use crate::auth::{LogIn, kept_login_email, safe_next};
use crate::components::{PageData, SubmitButton, TextField};
use crate::layout::Layout;

/// Email and password form; posts to the `log_in` server function without needing script.
/// After a failed attempt the email comes back (never the password) and the password field
/// has the focus.
#[component]
pub fn LoginPage() -> impl IntoView {
    let query = use_query_map();
    let next = query.with_untracked(|q| safe_next(q.get("next").as_deref()));
    let logged_out = query.with_untracked(|q| q.get("logged_out").is_some());
    view! {
        <Layout title="Log in".into()>
            <section class="card narrow">
                <h1>"Log in"</h1>
                {logged_out.then(|| view! { <p class="flash success" role="status">"You have logged out."</p> })}
                <PageData heading="Log in" load=kept_login_email() let:email>
                    <LoginForm email next=next.clone() />
                </PageData>
            </section>
        </Layout>
    }
}

#[component]
fn LoginForm(email: Option<String>, next: Option<String>) -> impl IntoView {
    let log_in = ServerAction::<LogIn>::new();
    let again = email.is_some();
    view! {
        <ActionForm action=log_in>
            <TextField label="Email" name="email" kind="email" value=email.unwrap_or_default()
                autocomplete="username" required=true autofocus=!again />
            <TextField label="Password" name="password" kind="password"
                autocomplete="current-password" required=true autofocus=again />
            {next.map(|n| view! { <input type="hidden" name="next" value=n /> })}
            <SubmitButton label="Log in" busy="Logging in…" />
        </ActionForm>
    }
}
