//! The start page.

use leptos::prelude::*;

use crate::auth::current_user;
use crate::layout::Layout;

/// Says what Settle is and where to go next.
#[component]
pub fn HomePage() -> impl IntoView {
    let next = match current_user() {
        Some(user) => view! {
            <p>
                "You are logged in as " {user.display_name.clone()} ". "
                <a href=user.role.home_path()>"Continue"</a>
            </p>
        }
        .into_any(),
        None => view! {
            <p><a class="button" href="/login">"Log in"</a></p>
        }
        .into_any(),
    };
    view! {
        <Layout title="Welcome".into()>
            <h1>"Settle"</h1>
            <p class="lead">
                "Pay what you owe for your insurance policy or internet service, keep your payment "
                "methods up to date, and download your invoices and receipts."
            </p>
            {next}
        </Layout>
    }
}
