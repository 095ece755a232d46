//! The browser side: pages, server functions, sessions and the guards around them.

pub mod api_reference;
pub mod client_addr;
pub mod csrf;
pub mod documents;
pub mod guard;
pub mod headers;
pub mod payments_export;
pub mod routes;
pub mod server_fns;
