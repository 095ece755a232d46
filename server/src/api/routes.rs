//! The API's route table: every route is added with its guard (who may call it), so the table
//! lists each one and a test probes that each guard holds; a route can't be added without one.
//! Routes the seeds show with a trailing slash answer without it too.

use axum::Router;
use axum::http::Method;
use axum::routing::MethodRouter;

use crate::state::AppState;

/// The methods a route takes, for [`Routes::add`].
pub const GET: &[Method] = &[Method::GET];
/// See [`GET`].
pub const POST: &[Method] = &[Method::POST];
/// See [`GET`].
pub const GET_PUT: &[Method] = &[Method::GET, Method::PUT];
/// See [`GET`].
pub const GET_POST: &[Method] = &[Method::GET, Method::POST];

/// Who may call a route.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Guard {
    /// Anyone (health, token grants, the customer's way back from a gateway).
    Public,
    /// A valid bearer token; the access rule decides what it sees.
    Bearer,
    /// A payment gateway: its request is verified (a signature, or by asking the gateway)
    /// before it changes anything.
    Gateway,
    /// Operations (the metrics scraper): open in development; in production a configured
    /// token, or a local client.
    Operations,
}

/// One route of the table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Route {
    /// The HTTP method.
    pub method: Method,
    /// The path as registered (`{param}` captures).
    pub path: String,
    /// Who may call it.
    pub guard: Guard,
}

/// A router being built, with its table.
pub struct Routes {
    router: Router<AppState>,
    table: Vec<Route>,
}

impl Default for Routes {
    fn default() -> Self {
        Routes::new()
    }
}

impl Routes {
    /// No routes yet.
    pub fn new() -> Routes {
        Routes { router: Router::new(), table: Vec::new() }
    }

    /// Adds `handler`, which takes `methods`, on `path` exactly, behind `guard`.
    pub fn add(
        mut self,
        guard: Guard,
        methods: &[Method],
        path: &str,
        handler: MethodRouter<AppState>,
    ) -> Routes {
        self.router = self.router.route(path, handler);
        for method in methods {
            self.table.push(Route { method: method.clone(), path: path.to_owned(), guard });
        }
        self
    }

    /// Adds the route on `path` and on its twin with (or without) the trailing slash.
    pub fn add_both(
        self,
        guard: Guard,
        methods: &[Method],
        path: &str,
        handler: MethodRouter<AppState>,
    ) -> Routes {
        let twin = match path.strip_suffix('/') {
            Some(bare) => bare.to_owned(),
            None => format!("{path}/"),
        };
        self.add(guard, methods, path, handler.clone()).add(guard, methods, &twin, handler)
    }

    /// Both tables and routers together.
    pub fn merge(mut self, other: Routes) -> Routes {
        self.router = self.router.merge(other.router);
        self.table.extend(other.table);
        self
    }

    /// The router and the table.
    pub fn into_parts(self) -> (Router<AppState>, Vec<Route>) {
        (self.router, self.table)
    }
}
