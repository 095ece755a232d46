//! The OpenAPI document: every (method, path) of the API's route table is in `/openapi.json`,
//! which is OpenAPI 3.1; the reference page answers with its renderer's files from this server
//! and lists the endpoints without JavaScript.

use anyhow::{Context, Result, bail, ensure};
use serde_json::Value;

use crate::support::TestApp;

pub async fn the_document_lists_every_route_of_the_api(app: TestApp) -> Result<()> {
    let response = app.new_client().get(app.url("/openapi.json")).send().await?;
    ensure!(response.status() == 200, "/openapi.json answered {}", response.status());
    let doc: Value = response.json().await?;
    let version = doc["openapi"].as_str().context("no `openapi` field")?;
    ensure!(version.starts_with("3.1"), "openapi {version}, not 3.1");
    let paths = doc["paths"].as_object().context("no `paths`")?;
    let table = settle_server::api::route_table(&app.state);
    let mut missing = Vec::new();
    for route in &table {
        let method = route.method.as_str().to_lowercase();
        if paths.get(&route.path).and_then(|item| item.get(&method)).is_none() {
            missing.push(format!("{} {}", route.method, route.path));
        }
    }
    if !missing.is_empty() {
        bail!("routes missing from /openapi.json:\n{}", missing.join("\n"));
    }
    // Nothing documented that the router doesn't answer, and operation ids are unique.
    let mut ids = std::collections::BTreeSet::new();
    for (path, item) in paths {
        for (method, operation) in item.as_object().context("a path item")? {
            let routed =
                table.iter().any(|r| r.path == *path && r.method.as_str() == method.to_uppercase());
            ensure!(routed, "{method} {path} is documented but not routed");
            let id = operation["operationId"].as_str().context("an operation id")?;
            ensure!(ids.insert(id.to_owned()), "operation id {id} used twice");
        }
    }
    ensure!(doc["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer");
    Ok(())
}

pub async fn the_reference_page_renders_from_this_server(app: TestApp) -> Result<()> {
    let client = app.new_client();
    let response = client.get(app.url("/docs/api")).send().await?;
    ensure!(response.status() == 200, "/docs/api answered {}", response.status());
    let csp =
        response.headers().get("content-security-policy").context("no CSP")?.to_str()?.to_owned();
    ensure!(csp.contains("script-src 'self'"), "CSP {csp}");
    let page = response.text().await?;
    ensure!(page.contains(r#"<a href="/openapi.json">"#), "no link to the document");
    ensure!(page.contains("<noscript>") && page.contains("POST /api/payments"));
    ensure!(page.contains("seed 004: ISP pay now"), "no tag headings");
    for asset in ["/swagger-ui/swagger-ui-bundle.js", "/swagger-ui/swagger-ui.css", "/api-docs.js"]
    {
        ensure!(page.contains(asset), "the page does not load {asset}");
        let status = client.get(app.url(asset)).send().await?.status();
        ensure!(status == 200, "{asset} answered {status}");
    }
    ensure!(!page.contains("<script>"), "an inline script the CSP would block");
    Ok(())
}
