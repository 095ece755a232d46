//! The route table: every API route is registered with a guard (a route can't be added without
//! one) and every page falls under a role's prefix or is knowingly public. Each guard is probed:
//! a bearer route answers 401 without a token, a gateway route changes nothing unverified,
//! a public route never fails; a protected page sends an anonymous visitor to log in.

use anyhow::{Result, bail};
use reqwest::Method;
use settle_server::api::routes::Guard;
use settle_server::web::guard::required_role;

use crate::support::TestApp;

/// Pages anyone may see.
const PUBLIC_PAGES: &[&str] = &["/", "/login"];

/// A path with its captures filled in with values that name nothing.
fn concrete(path: &str) -> String {
    path.replace("{uuid}", "9d2c4cfa-3a3f-4d3c-9a0e-000000000000")
        .replace("{reference}", "PAY-NOTHINGHERE")
        .replace("{gateway}", "payfort-aed")
        .replace("{realm}", "PGW")
        .replace("{id}", "1")
}

pub async fn every_route_has_a_guard_that_holds(app: TestApp) -> Result<()> {
    let table = settle_server::api::route_table(&app.state);
    let mut listed = Vec::new();
    for route in &table {
        let path = concrete(&route.path);
        let method = Method::from_bytes(route.method.as_str().as_bytes())?;
        let response = app
            .new_client()
            .request(method.clone(), app.url(&path))
            .header("accept", "application/json")
            .send()
            .await?;
        let status = response.status().as_u16();
        let challenge = response.headers().contains_key("www-authenticate");
        let held = match route.guard {
            Guard::Bearer => status == 401 && challenge,
            // The operations guard is open in development, as this server runs.
            Guard::Public | Guard::Gateway | Guard::Operations => status < 500 && status != 405,
        };
        if !held {
            bail!(
                "{method} {} ({:?}) answered {status} without credentials",
                route.path,
                route.guard
            );
        }
        listed.push(format!("{:<6} {:<60} {:?}", route.method, route.path, route.guard));
    }
    // Every seed path shown with a slash answers without one too (and the other way round).
    for route in &table {
        if route.path.starts_with("/api/v") {
            let twin = match route.path.strip_suffix('/') {
                Some(bare) => bare.to_owned(),
                None => format!("{}/", route.path),
            };
            if !table.iter().any(|r| r.path == twin && r.method == route.method) {
                bail!("{} {} has no twin {twin}", route.method, route.path);
            }
        }
    }
    println!("route table ({} routes):\n{}", table.len(), listed.join("\n"));
    Ok(())
}

pub async fn every_page_is_under_a_role_or_knowingly_public(app: TestApp) -> Result<()> {
    use leptos_axum::generate_route_list;
    let pages = generate_route_list(settle_app::App);
    for page in pages {
        let path = page.path().to_owned();
        let concrete = path.replace(":reference", "PAY-NOTHINGHERE");
        match required_role(&path) {
            Some(_) => {
                let response = app.new_client().get(app.url(&concrete)).send().await?;
                let location = crate::support::location(&response);
                if !(response.status().is_redirection() && location.starts_with("/login")) {
                    bail!("{path}: an anonymous visitor got {} {location:?}", response.status());
                }
            }
            None if PUBLIC_PAGES.contains(&path.as_str()) => {}
            None => bail!("page {path} is under no role's prefix and not listed as public"),
        }
    }
    Ok(())
}

pub async fn seed_002_paths_are_answered_by_seed_002_not_seed_003(app: TestApp) -> Result<()> {
    let token = app.merchant_token().await?;
    // Seed 002's own answers ({} or its errors hash), never seed 003's problem details for a
    // uuid it doesn't know.
    for (method, path, status) in [
        (Method::POST, "/api/v1/payments/orders", 422),
        (Method::POST, "/api/v1/payments/orders/", 422),
        (Method::GET, "/api/v1/payments/orders/total/", 422),
        (Method::GET, "/api/v1/payments/payment_methods/", 422),
        (Method::GET, "/api/v1/payments/payment_methods/999", 404),
    ] {
        let body = serde_json::json!({});
        let answer = app.call(method.clone(), path, Some(&token), Some(&body), None).await?;
        let ours = answer.body == serde_json::json!({}) || answer.body["errors"].is_object();
        if answer.status != status || !ours {
            bail!("{method} {path}: {} {}", answer.status, answer.body);
        }
    }
    Ok(())
}
