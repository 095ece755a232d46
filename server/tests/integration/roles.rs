//! Role enforcement, generated from the route list (`web::routes::list`): every page, server
//! function and download under a role's prefix refuses the other roles with 403 and sends an
//! anonymous visitor to log in (401 for a post), its own role's pages don't fail with params
//! that name nothing, and anything under no role's prefix must be listed as public. A route
//! added without a guard, or outside the prefixes, fails here without being named.

use anyhow::{Result, bail};
use reqwest::{Client, Method};
use settle::account::Role;
use settle_server::web::guard::required_role;
use settle_server::web::routes::{self, Kind, PUBLIC_PAGES, WebRoute};

use crate::support::ops::{ADMIN, CUSTOMER, OPERATOR};
use crate::support::{TestApp, location};

/// A path with each parameter (`:event`, `{reference}`, `*rest`) filled in with a value that
/// names nothing.
fn concrete(path: &str) -> String {
    path.split('/')
        .map(|segment| {
            let param = segment.starts_with(':')
                || segment.starts_with('*')
                || (segment.starts_with('{') && segment.ends_with('}'));
            if param { "1" } else { segment }
        })
        .collect::<Vec<_>>()
        .join("/")
}

/// Sends `route` on `client` as a browser would (same origin; an empty form for a post).
async fn send(app: &TestApp, client: &Client, route: &WebRoute) -> Result<(u16, String)> {
    let path = concrete(&route.path);
    let method = Method::from_bytes(route.method.as_str().as_bytes())?;
    let mut request =
        client.request(method.clone(), app.url(&path)).headers(app.same_origin_headers(&path));
    if method != Method::GET {
        request =
            request.header("content-type", "application/x-www-form-urlencoded").body(String::new());
    }
    let response = request.send().await?;
    Ok((response.status().as_u16(), location(&response)))
}

pub async fn every_web_route_is_guarded_for_its_role(app: TestApp) -> Result<()> {
    let clients = [
        (Role::Admin, app.signed_in(ADMIN).await?),
        (Role::Operator, app.signed_in(OPERATOR).await?),
        (Role::Customer, app.signed_in(CUSTOMER).await?),
    ];
    let anonymous = app.new_client();
    let list = routes::list();
    let mut problems = Vec::new();
    let mut checked = std::collections::BTreeMap::<(String, &str), usize>::new();
    for route in &list {
        let what = format!("{} {} ({:?})", route.method, route.path, route.kind);
        let Some(role) = required_role(&route.path) else {
            if !PUBLIC_PAGES.contains(&route.path.as_str()) {
                problems.push(format!("{what}: under no role's prefix and not in PUBLIC_PAGES"));
            } else if route.method == Method::GET {
                let (status, _) = send(&app, &anonymous, route).await?;
                if status >= 500 {
                    problems.push(format!("{what}: public, answered {status}"));
                }
            }
            continue;
        };
        let kind = match route.kind {
            Kind::Page => "page",
            Kind::ServerFn => "server fn",
            Kind::Plain => "download",
        };
        *checked.entry((role.to_string(), kind)).or_default() += 1;
        // Nobody signed in: a page sends them to log in; a post is refused.
        let (status, to) = send(&app, &anonymous, route).await?;
        let sent_to_login = if route.method == Method::GET {
            (300..400).contains(&status) && to.starts_with("/login")
        } else {
            status == 401
        };
        if !sent_to_login {
            problems.push(format!("{what}: anonymous got {status} {to:?}"));
        }
        for (other, client) in &clients {
            let (status, to) = send(&app, client, route).await?;
            if *other != role && status != 403 {
                problems.push(format!("{what}: a signed-in {other} got {status} {to:?}, not 403"));
            }
            // Its own role: pages and downloads answer (404 for what doesn't exist), never 5xx.
            // Server functions are not posted as their own role: some act.
            if *other == role && route.kind != Kind::ServerFn && status >= 500 {
                problems.push(format!("{what}: its own role ({other}) got {status}"));
            }
        }
    }
    for role in ["admin", "operator", "customer"] {
        for kind in ["page", "server fn"] {
            if !checked.contains_key(&(role.to_owned(), kind)) {
                problems.push(format!("the route list has no {role} {kind}: is it complete?"));
            }
        }
    }
    if !problems.is_empty() {
        bail!(
            "{} of {} web routes break the rules:\n{}",
            problems.len(),
            list.len(),
            problems.join("\n")
        );
    }
    println!("{} web routes checked: {checked:?}", list.len());
    Ok(())
}
