//! Every web (non-API) route in one list: the app's pages, its server functions and the plain
//! routes next to them (PDF and CSV downloads). The guard ([`super::guard::required_role`]) gives each
//! its role by path prefix; anything under no role's prefix must be in [`PUBLIC_PAGES`]. The
//! role tests walk [`list`], so a route added anywhere is checked without being named.

use axum::Router;
use axum::http::Method;
use axum::routing::{MethodRouter, get};
use leptos_axum::generate_route_list;
use settle_app::App;

use super::{api_reference, documents, payments_export};
use crate::state::AppState;

/// The web routes anyone may use, signed in or not: every other web route is under a role's
/// prefix (`/account`, `/admin`, `/operator`).
pub const PUBLIC_PAGES: &[&str] = &[
    "/",
    "/login",
    "/api/auth/login",
    "/api/auth/login_email",
    "/api/auth/logout",
    api_reference::PATH,
];

/// What serves a web route.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// A Leptos page.
    Page,
    /// A server function (a page's form posts to it).
    ServerFn,
    /// A plain axum handler (a download).
    Plain,
}

/// One web route.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WebRoute {
    /// The path as routed (`/admin/webhooks/{event}` or `/admin/webhooks/:event`).
    pub path: String,
    /// The method it answers.
    pub method: Method,
    /// What serves it.
    pub kind: Kind,
}

/// The plain web routes: path and handler (all GET).
fn plain() -> Vec<(&'static str, MethodRouter<AppState>)> {
    vec![
        ("/account/payments/{reference}/tax-invoice.pdf", get(documents::tax_invoice)),
        ("/account/payments/{reference}/receipt.pdf", get(documents::receipt)),
        ("/admin/payments/export.csv", get(payments_export::export_csv)),
        (api_reference::PATH, get(api_reference::page)),
    ]
}

/// The plain web routes as a router, merged next to the pages (behind the same guard).
pub fn router() -> Router<AppState> {
    plain().into_iter().fold(Router::new(), |router, (path, handler)| router.route(path, handler))
}

/// Every web route: pages, server functions and plain routes.
pub fn list() -> Vec<WebRoute> {
    let mut routes = Vec::new();
    for page in generate_route_list(App) {
        for method in page.methods() {
            let method = Method::from_bytes(format!("{method:?}").to_uppercase().as_bytes())
                .unwrap_or(Method::GET);
            routes.push(WebRoute { path: page.path().to_owned(), method, kind: Kind::Page });
        }
    }
    for (path, method) in super::server_fns::registered() {
        routes.push(WebRoute { path: path.to_owned(), method, kind: Kind::ServerFn });
    }
    for (path, _) in plain() {
        routes.push(WebRoute { path: path.to_owned(), method: Method::GET, kind: Kind::Plain });
    }
    routes
}
