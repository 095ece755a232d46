//! The OpenAPI 3.1 document of every API route: Settle's own API, each seed dialect and the
//! gateways' callbacks, assembled from the `#[utoipa::path]` annotations next to the handlers.
//! A route the seeds show with a trailing slash is documented once and its twin copied here from
//! the route table, as are the Keycloak paths of the token endpoints, so the document lists every
//! (method, path) the router answers.

use std::collections::BTreeSet;
use std::sync::OnceLock;

use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use utoipa::openapi::path::{Operation, Parameter, ParameterBuilder, ParameterIn};
use utoipa::openapi::schema::{Object, ObjectBuilder, Type};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{OpenApi as Document, PathItem, Required};
use utoipa::{Modify, OpenApi};

use super::routes::{GET, Guard, Route, Routes};
use super::{
    callbacks, campaign_orders, health, insurance_checkout, invoice_payments, oauth, operations,
    owed, pay_now, payments, quote_payments, webhooks,
};
use crate::state::AppState;

/// Settle's own API: purchases, payments, webhooks, tokens, health.
pub const SETTLE: &str = "Settle API";
/// Seed 000.
pub const SEED_000: &str = "seed 000: insurance checkout";
/// Seed 001.
pub const SEED_001: &str = "seed 001: invoice payments";
/// Seed 002.
pub const SEED_002: &str = "seed 002: campaign orders";
/// Seed 003.
pub const SEED_003: &str = "seed 003: card payments for quotes";
/// Seed 004.
pub const SEED_004: &str = "seed 004: ISP pay now";
/// The gateways' notifications and the customer's way back from a gateway.
pub const CALLBACKS: &str = "gateway callbacks";

/// The Keycloak paths seed 001's clients use for the token endpoints: (alias, documented path).
const KEYCLOAK_ALIASES: &[(&str, &str)] = &[
    ("/auth/realms/{realm}/protocol/openid-connect/token", "/oauth/token"),
    ("/auth/realms/{realm}/protocol/openid-connect/userinfo", "/oauth/userinfo"),
];

/// Where the document is served.
pub const PATH: &str = "/openapi.json";

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Settle",
        description = "Settle's own API, the five seed APIs it speaks unchanged, and the gateways' \
                       callbacks. Bearer tokens come from `POST /oauth/token`.",
    ),
    paths(
        health::healthz,
        health::readyz,
        operations::metrics,
        openapi_json,
        oauth::token,
        oauth::userinfo,
        payments::start,
        payments::show,
        owed::list_customers,
        owed::show_customer,
        owed::upsert_customer,
        owed::list_services,
        owed::create_service,
        owed::show_service,
        owed::list_purchases,
        owed::create_purchase,
        owed::show_purchase,
        owed::cancel_purchase,
        webhooks::show,
        webhooks::set,
        webhooks::rotate,
        webhooks::deliveries,
        insurance_checkout::gateways,
        insurance_checkout::initiate,
        insurance_checkout::token,
        insurance_checkout::validate_session,
        insurance_checkout::status,
        insurance_checkout::complete,
        insurance_checkout::process,
        insurance_checkout::tax_invoice,
        insurance_checkout::receipt,
        invoice_payments::create_payment,
        invoice_payments::authorize,
        invoice_payments::pay_page,
        campaign_orders::create_order,
        campaign_orders::total,
        campaign_orders::payment_methods,
        campaign_orders::payment_method,
        quote_payments::list,
        quote_payments::prepare,
        quote_payments::show,
        quote_payments::take_payment,
        quote_payments::address,
        pay_now::payment_mediums,
        pay_now::details_and_actions,
        pay_now::active_medium,
        pay_now::purchase_sources,
        pay_now::collection::submit_for_collection,
        pay_now::collection::peach_redirect,
        pay_now::buy_now::buy_now,
        pay_now::config::billing_scheme,
        pay_now::config::rules,
        pay_now::config::default_provider,
        pay_now::card_update::card_medium_update,
        pay_now::card_update::card_update_return,
        callbacks::notify,
        callbacks::challenge_complete,
    ),
    modifiers(&SecuritySchemes),
    tags(
        (name = SETTLE, description = "Settle's own merchant API, tokens and health."),
        (name = SEED_000, description = "The insurance checkout API (`/api/v3/payment/...`)."),
        (name = SEED_001, description = "The invoice payment system (Keycloak-style login)."),
        (name = SEED_002, description = "The campaign orders payments API."),
        (name = SEED_003, description = "Card payments with 3-D Secure for quotes."),
        (name = SEED_004, description = "The ISP's pay now service (problem details)."),
        (name = CALLBACKS, description = "Gateways' notifications and customers' returns."),
    )
)]
struct ApiDoc;

/// `bearer` (tokens from the token endpoint) and `basic` (a client's id and secret at the token
/// endpoint).
struct SecuritySchemes;

impl Modify for SecuritySchemes {
    fn modify(&self, openapi: &mut Document) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
        components.add_security_scheme(
            "basic",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Basic).build()),
        );
    }
}

/// The route serving the document.
pub fn routes() -> Routes {
    Routes::new().add(Guard::Public, GET, PATH, get(openapi_json))
}

/// The document for the router whose route table is `table`: the annotated operations, plus each
/// trailing-slash twin the table holds, with operation ids made unique.
pub fn document(table: &[Route]) -> Document {
    let mut doc = ApiDoc::openapi();
    for route in table {
        if doc.paths.paths.contains_key(&route.path) {
            continue;
        }
        let twin = match route.path.strip_suffix('/') {
            Some(bare) => bare.to_owned(),
            None => format!("{}/", route.path),
        };
        if let Some(item) = doc.paths.paths.get(&twin).cloned() {
            doc.paths.paths.insert(route.path.clone(), item);
        } else if let Some((_, documented)) =
            KEYCLOAK_ALIASES.iter().find(|(alias, _)| *alias == route.path)
            && let Some(mut item) = doc.paths.paths.get(*documented).cloned()
        {
            for (_, operation) in operations(&mut item) {
                operation.tags = Some(vec![SEED_001.to_owned()]);
                operation.parameters.get_or_insert_with(Vec::new).push(realm());
            }
            doc.paths.paths.insert(route.path.clone(), item);
        }
    }
    let mut seen = BTreeSet::new();
    for (path, item) in doc.paths.paths.iter_mut() {
        for (method, operation) in operations(item) {
            let base = operation.operation_id.clone().unwrap_or_else(|| method.to_owned());
            let mut id = base.clone();
            if seen.contains(&id) {
                id = format!("{base}_{method}");
            }
            if seen.contains(&id) && path.ends_with('/') {
                id = format!("{base}_{method}_slash");
            }
            let mut n = 2;
            while seen.contains(&id) {
                id = format!("{base}_{method}_{n}");
                n += 1;
            }
            seen.insert(id.clone());
            operation.operation_id = Some(id);
        }
    }
    doc
}

/// An exact decimal sent as a JSON number (`379.16`): the digits as written, never a float's
/// rounding (for `schema_with` on fields serialised as decimal numbers).
pub fn decimal_number() -> Object {
    ObjectBuilder::new()
        .schema_type(Type::Number)
        .description(Some("An exact decimal amount or rate, written with its digits (379.16)"))
        .build()
}

/// The `{realm}` of a Keycloak path (any realm is accepted).
fn realm() -> Parameter {
    ParameterBuilder::new()
        .name("realm")
        .parameter_in(ParameterIn::Path)
        .required(Required::True)
        .description(Some("The realm (any)"))
        .schema(Some(ObjectBuilder::new().schema_type(Type::String)))
        .build()
}

fn operations(item: &mut PathItem) -> Vec<(&'static str, &mut Operation)> {
    [
        ("get", &mut item.get),
        ("put", &mut item.put),
        ("post", &mut item.post),
        ("delete", &mut item.delete),
        ("patch", &mut item.patch),
        ("head", &mut item.head),
        ("options", &mut item.options),
        ("trace", &mut item.trace),
    ]
    .into_iter()
    .filter_map(|(method, operation)| operation.as_mut().map(|op| (method, op)))
    .collect()
}

/// The document of this server's router; the routes are fixed at build time, so it is made once.
pub fn current(state: &AppState) -> &'static Document {
    static DOC: OnceLock<Document> = OnceLock::new();
    DOC.get_or_init(|| document(&super::route_table(state)))
}

/// [`current`] as JSON.
pub fn json(state: &AppState) -> &'static str {
    static JSON: OnceLock<String> = OnceLock::new();
    JSON.get_or_init(|| current(state).to_pretty_json().unwrap_or_else(|_| String::from("{}")))
}

/// The operations of a path item with their methods (lower case), in a fixed order.
pub fn operations_of(item: &PathItem) -> Vec<(&'static str, &Operation)> {
    [
        ("get", &item.get),
        ("put", &item.put),
        ("post", &item.post),
        ("delete", &item.delete),
        ("patch", &item.patch),
        ("head", &item.head),
        ("options", &item.options),
        ("trace", &item.trace),
    ]
    .into_iter()
    .filter_map(|(method, operation)| operation.as_ref().map(|op| (method, op)))
    .collect()
}

/// `GET /openapi.json`: this document.
#[utoipa::path(get, path = PATH, tag = SETTLE,
    responses((status = 200, description = "The OpenAPI 3.1 document", content_type = "application/json")))]
pub async fn openapi_json(State(state): State<AppState>) -> Response {
    (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static("application/json")),
            (header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=300")),
        ],
        json(&state),
    )
        .into_response()
}
