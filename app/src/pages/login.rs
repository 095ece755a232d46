//! The login page.

use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

use crate::auth::{LogIn, safe_next};
use crate::layout::Layout;

/// Email and password form; posts to the `log_in` server function without needing script.
#[component]
pub fn LoginPage() -> impl IntoView {
    let query = use_query_map();
    let next = query.with_untracked(|q| safe_next(q.get("next").as_deref()));
    let logged_out = query.with_untracked(|q| q.get("logged_out").is_some());
    let log_in = ServerAction::<LogIn>::new();
    view! {
        <Layout title="Log in".into()>
            <section class="card narrow">
                <h1>"Log in"</h1>
                {logged_out.then(|| view! { <p class="flash success">"You have logged out."</p> })}
                <ActionForm action=log_in>
                    <label>
                        "Email"
                        <input type="email" name="email" autocomplete="username" required />
                    </label>
                    <label>
                        "Password"
                        <input type="password" name="password" autocomplete="current-password" required />
                    </label>
                    {next.map(|n| view! { <input type="hidden" name="next" value=n /> })}
                    <button type="submit">"Log in"</button>
                </ActionForm>
            </section>
        </Layout>
    }
}
