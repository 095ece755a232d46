//! The frame around every page: header with navigation, the flash message, the content.

use http::request::Parts;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::A;
use settle::account::Role;

use crate::auth::{LogOut, current_user};
use crate::flash::Flash;

/// Wraps a page's content with the header, navigation and any pending flash message.
#[component]
pub fn Layout(
    /// The page title (the `<title>` and the tab).
    title: String,
    /// The page content.
    children: Children,
) -> impl IntoView {
    let user = current_user();
    let flash = use_context::<Parts>().and_then(|p| p.extensions.get::<Flash>().cloned());
    let nav = match user.as_ref().map(|u| u.role) {
        Some(Role::Customer) => view! { <A href="/account">"My account"</A> }.into_any(),
        Some(Role::Admin) => view! { <A href="/admin">"Payments console"</A> }.into_any(),
        Some(Role::Operator) => view! { <A href="/operator">"Configuration"</A> }.into_any(),
        None => ().into_any(),
    };
    let session = match user {
        Some(user) => {
            let log_out = ServerAction::<LogOut>::new();
            view! {
            <span class="who">{user.display_name.clone()}</span>
            <ActionForm action=log_out attr:class="inline">
                <button type="submit" class="link">"Log out"</button>
            </ActionForm>
            }
            .into_any()
        }
        None => view! { <A href="/login">"Log in"</A> }.into_any(),
    };
    view! {
        <Title text=title />
        <header class="top">
            <a class="brand" href="/">"Settle"</a>
            <nav>{nav}</nav>
            <div class="session">{session}</div>
        </header>
        <main>
            {flash.map(|f| { let class = f.class(); view! { <p class=class role="status">{f.message}</p> } })}
            {children()}
        </main>
    }
}
