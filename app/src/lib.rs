//! Settle's pages: Leptos components rendered on the server, and the server functions they post
//! to. Every page works as plain HTML forms and links (no hydration bundle is built).

pub mod auth;
pub mod context;
pub mod error;
pub mod flash;
mod layout;
pub mod pages;

use leptos::prelude::*;
use leptos_meta::{MetaTags, Title, provide_meta_context};
use leptos_router::components::{Route, Router, Routes};
use leptos_router::{SsrMode, path};

pub use context::PageContext;
pub use error::PageError;

/// The HTML document around every page. No `<HydrationScripts/>`: pages are server-rendered
/// only, so no script is needed (or allowed by the content security policy).
pub fn shell(options: LeptosOptions) -> impl IntoView {
    let _ = options;
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8" />
                <meta name="viewport" content="width=device-width, initial-scale=1" />
                <link rel="stylesheet" href="/style/settle.css" />
                <link rel="icon" href="/favicon.svg" type="image/svg+xml" />
                <MetaTags />
            </head>
            <body>
                <App />
            </body>
        </html>
    }
}

/// The page routes. Every route renders in `SsrMode::Async` so the whole page (with its data) is
/// sent at once: out-of-order streaming would need script to put the data in place.
#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    view! {
        <Title formatter=|title| format!("{title} · Settle") />
        <Router>
            <Routes fallback=pages::not_found::NotFound>
                <Route path=path!("/") view=pages::home::HomePage ssr=SsrMode::Async />
                <Route path=path!("/login") view=pages::login::LoginPage ssr=SsrMode::Async />
                <Route path=path!("/account") view=pages::account::AccountPage ssr=SsrMode::Async />
                <Route path=path!("/account/checkout") view=pages::checkout::CheckoutPage ssr=SsrMode::Async />
                <Route path=path!("/account/checkout/card") view=pages::card_payment::CardPaymentPage ssr=SsrMode::Async />
                <Route path=path!("/account/payments/:reference") view=pages::payment_status::PaymentStatusPage ssr=SsrMode::Async />
                <Route path=path!("/account/payments/:reference/challenge") view=pages::card_payment::ChallengePage ssr=SsrMode::Async />
                <Route path=path!("/account/payments/:reference/challenge/frame") view=pages::card_payment::ChallengeFramePage ssr=SsrMode::Async />
                <Route path=path!("/admin") view=pages::admin::AdminPage ssr=SsrMode::Async />
                <Route path=path!("/operator") view=pages::operator::OperatorPage ssr=SsrMode::Async />
            </Routes>
        </Router>
    }
}
