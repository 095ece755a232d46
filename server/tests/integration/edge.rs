//! The edge of the server, as a security review probed it: where login may send the browser,
//! JSON bodies that never echo what was sent, response headers, and status codes of server
//! functions and unknown API paths.

use anyhow::Result;
use settle::demo::{CUSTOMER_EMAIL, CUSTOMER_PASSWORD};

use crate::support::{TestApp, ensure, location};

pub async fn login_follows_only_plain_local_paths(app: TestApp) -> Result<()> {
    // (the `next` form field as the server receives it, decoded; where login must send the
    // customer). Browsers drop tab/CR/LF and read `\` as `/`, so the first seven would leave the
    // site; CR can't even go into a Location header (it panicked into a 500 after logging the
    // customer in). Spaces and non-ASCII are refused too; the last four are plain local paths.
    let cases: &[(&str, &str)] = &[
        ("/\t/evil.example/x", "/account"),
        ("/\r/x", "/account"),
        ("/\n/x", "/account"),
        ("/\\evil.example", "/account"),
        ("/\\/evil.example", "/account"),
        ("//evil.example", "/account"),
        ("https://evil.example", "/account"),
        ("/ /evil.example", "/account"),
        (" /account", "/account"),
        ("/caf\u{e9}", "/account"),
        ("", "/account"),
        // Double-encoded slashes stay one path segment on this site: browsers never decode
        // `%2F` when resolving a URL, so this is a local (404) page, not another host.
        ("/%2F%2Fevil.example", "/%2F%2Fevil.example"),
        ("/%09/evil.example", "/%09/evil.example"),
        (
            "/account/checkout?policy=DEMO/0001/MOTOR/WEB",
            "/account/checkout?policy=DEMO/0001/MOTOR/WEB",
        ),
    ];
    for (next, expected) in cases {
        let browser = app.new_client();
        let response = app
            .post_form_with(
                &browser,
                "/api/auth/login",
                &[("email", CUSTOMER_EMAIL), ("password", CUSTOMER_PASSWORD), ("next", next)],
            )
            .await?;
        ensure(
            response.status() == 302 && location(&response) == *expected,
            format!(
                "next={next:?}: answered {} -> {:?}, expected 302 -> {expected}",
                response.status(),
                location(&response)
            ),
        )?;
    }
    // The login page doesn't carry a bad `next` into its form either.
    let page = app.get("/login?next=%2F%09%2Fevil.example%2Fx").await?.text().await?;
    ensure(!page.contains("evil.example"), "the login form drops a bad next")?;
    let page = app.get("/login?next=%2Fadmin").await?.text().await?;
    ensure(page.contains(r#"name="next" value="/admin""#), "the login form keeps a good next")
}
