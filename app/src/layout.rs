//! The frame around every page: header with navigation, the flash message, the content.

use http::request::Parts;
use leptos::prelude::*;
use leptos_meta::Title;
use settle::account::{Role, User};

use crate::auth::{LogOut, current_user};
use crate::components::{ConsoleNav, SubmitButton};
use crate::flash::Flash;

/// Wraps a page's content with the header, navigation and any pending flash message.
#[component]
pub fn Layout(
    /// The page title (the `<title>` and the tab).
    title: String,
    /// The page content.
    children: Children,
) -> impl IntoView {
    let flash = use_context::<Parts>().and_then(|p| p.extensions.get::<Flash>().cloned());
    let user = current_user();
    let here = use_context::<Parts>().map(|p| p.uri.path().to_owned()).unwrap_or_default();
    // The console's tables are wide: its pages get the screen's width, the customer's stay narrow.
    let wide = (here.starts_with("/admin") || here.starts_with("/operator")).then_some("console");
    let console = user.as_ref().map(|u| view! { <ConsoleNav role=u.role here=here.clone() /> });
    view! {
        <Title text=title />
        <SiteHeader user=user />
        {console}
        <main class=wide>
            {flash.map(|f| {
                let class = f.class();
                view! { <p class=class role="status">{f.message}</p> }
            })}
            {children()}
        </main>
    }
}

/// The site's header: the brand, the signed-in role's home, who is signed in and "Log out".
/// Takes the user rather than reading the request, so pages rendered outside the router (the
/// 403 page) carry the same header.
#[component]
pub fn SiteHeader(
    /// Who is signed in, if anyone.
    user: Option<User>,
) -> impl IntoView {
    // Plain links (not the router's <A>): the 403 page is rendered outside the router.
    let here = use_context::<Parts>().map(|p| p.uri.path().to_owned());
    let nav = user.as_ref().map(|u| {
        let (href, text) = match u.role {
            Role::Customer => (crate::links::ACCOUNT, "My account"),
            Role::Admin => ("/admin", "Payments console"),
            Role::Operator => ("/operator", "Configuration"),
            // Never signed in here (the login refuses it); the front page if it ever were.
            Role::MerchantApi => ("/", "Home"),
        };
        let current = (here.as_deref() == Some(href)).then_some("page");
        view! { <a href=href aria-current=current>{text}</a> }
    });
    let session = match user {
        Some(user) => {
            let log_out = ServerAction::<LogOut>::new();
            view! {
                <span class="who">{user.display_name.clone()}</span>
                <ActionForm action=log_out attr:class="inline">
                    <SubmitButton label="Log out" busy="Logging out…" class="link" />
                </ActionForm>
            }
            .into_any()
        }
        None => view! { <a href="/login">"Log in"</a> }.into_any(),
    };
    view! {
        <header class="top">
            <a class="brand" href="/">"Settle"</a>
            <nav>{nav}</nav>
            <div class="session">{session}</div>
        </header>
    }
}
