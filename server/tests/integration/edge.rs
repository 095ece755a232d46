//! The edge of the server, as a security review probed it: where login may send the browser,
//! JSON bodies that never echo what was sent, response headers, and status codes of server
//! functions and unknown API paths.

use anyhow::{Context, Result};
use reqwest::header::CONTENT_TYPE;
use serde_json::Value;
use settle::demo::{
    ADMIN_EMAIL, ADMIN_PASSWORD, CUSTOMER_EMAIL, CUSTOMER_PASSWORD, OPERATOR_EMAIL,
    OPERATOR_PASSWORD, POLICY_NUMBER,
};

use crate::support::{TestApp, ensure, location};

fn header(response: &reqwest::Response, name: &str) -> String {
    response.headers().get(name).and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned()
}

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

pub async fn json_errors_name_the_field_and_never_echo_the_value(app: TestApp) -> Result<()> {
    let token = app.merchant_token().await?;
    let post = |body: &'static str, content_type: &'static str| {
        app.client
            .post(app.url("/api/payments"))
            .bearer_auth(&token)
            .header(CONTENT_TYPE, content_type)
            .body(body)
            .send()
    };
    let response = post(
        r#"{"purchase_id": "x", "method": "card", "card": {"holder": "J SMITH", "number": 4111111111111111, "expiry": "1030", "cvv": "123"}}"#,
        "application/json",
    )
    .await?;
    let status = response.status();
    let content_type = header(&response, "content-type");
    let body = response.text().await?;
    ensure(status == 422, format!("a wrongly typed card number answers {status}: {body}"))?;
    ensure(
        content_type == "application/problem+json",
        format!("problem details, got {content_type}"),
    )?;
    ensure(
        !body.contains("4111") && !body.contains("1111"),
        format!("the number is not echoed: {body}"),
    )?;
    let problem: Value = serde_json::from_str(&body)?;
    let errors = problem["errors"].as_array().context("errors")?;
    ensure(
        errors.iter().any(|e| e["field"] == "card.number" && e["message"] == "must be a string"),
        format!("card.number must be a string: {body}"),
    )?;

    // A missing card field names its path.
    let response =
        post(r#"{"purchase_id": "x", "card": {"holder": 4111111111111111}}"#, "application/json")
            .await?;
    let body = response.text().await?;
    ensure(body.contains(r#""field":"card.holder""#) && !body.contains("4111"), body)?;

    // Text that is not JSON: 400 problem details, still without the value.
    let response = post(r#"{"card": {"number": "4111111111111111""#, "application/json").await?;
    let (status, content_type) = (response.status(), header(&response, "content-type"));
    let body = response.text().await?;
    ensure(
        status == 400 && content_type == "application/problem+json",
        format!("{status} {content_type}"),
    )?;
    ensure(!body.contains("4111"), body)?;

    // Another content type: 415 problem details.
    let response = post(r#"{"purchase_id": "x"}"#, "text/plain").await?;
    ensure(
        response.status() == 415 && header(&response, "content-type") == "application/problem+json",
        format!("text/plain answers {}", response.status()),
    )
}

pub async fn responses_carry_a_nonce_csp_and_no_store(app: TestApp) -> Result<()> {
    let first = app.get("/login").await?;
    let csp = header(&first, "content-security-policy");
    ensure(header(&first, "cache-control") == "no-store", "the login page is no-store")?;
    ensure(first.headers().get("strict-transport-security").is_none(), "no HSTS in development")?;
    let html = first.text().await?;
    let nonce = csp
        .split("'nonce-")
        .nth(1)
        .and_then(|rest| rest.split('\'').next())
        .with_context(|| format!("a nonce in script-src: {csp}"))?
        .to_owned();
    ensure(csp.contains("script-src 'self' 'nonce-"), format!("script-src: {csp}"))?;
    ensure(csp.contains("frame-src 'self'"), format!("frame-src: {csp}"))?;
    ensure(csp.contains("frame-ancestors 'self'"), format!("frame-ancestors: {csp}"))?;
    // Every inline script Leptos wrote carries the response's nonce.
    let scripts: Vec<&str> = html.split("<script").skip(1).collect();
    ensure(!scripts.is_empty(), "Leptos writes its inline scripts")?;
    for script in &scripts {
        let opening = script.split('>').next().unwrap_or_default();
        ensure(
            opening.contains(" src=") || opening.contains(&format!("nonce=\"{nonce}\"")),
            format!("script <script{opening}> carries nonce {nonce}"),
        )?;
    }
    let second = app.get("/login").await?;
    ensure(
        !header(&second, "content-security-policy").contains(&nonce),
        "each response has its own nonce",
    )?;

    // Customer pages, API answers and OAuth answers are not stored; static files are cached.
    app.log_in(CUSTOMER_EMAIL, CUSTOMER_PASSWORD, "/account").await?;
    for path in ["/account", "/api/nope", "/api/payments/PAY-NOPE", "/oauth/userinfo", "/nope"] {
        let response = app.get(path).await?;
        ensure(
            header(&response, "cache-control") == "no-store",
            format!("{path} answers Cache-Control {:?}", header(&response, "cache-control")),
        )?;
    }
    let token = app
        .client
        .post(app.url("/oauth/token"))
        .form(&[("grant_type", "client_credentials"), ("client_id", "x"), ("client_secret", "y")])
        .send()
        .await?;
    ensure(header(&token, "cache-control") == "no-store", "token answers are no-store")?;
    for path in ["/style/settle.css", "/3ds.js", "/favicon.svg"] {
        let response = app.get(path).await?;
        ensure(
            header(&response, "cache-control").starts_with("public"),
            format!("{path} stays cacheable"),
        )?;
    }
    Ok(())
}

pub async fn challenge_frames_allow_card_gateways_and_configured_origins(
    app: TestApp,
) -> Result<()> {
    // Card gateways with their own base URL: their origin may be framed (after a restart). Every
    // card gateway of the demo gets it, so none falls back to the sandbox's origin.
    settle::with_db!(&app.db, pool => sqlx::query("UPDATE gateways SET base_url = $1 WHERE kind = $2")
        .bind("https://pi-test.acquirer.example:8443/api/v1")
        .bind("card_3ds")
        .execute(pool)
        .await
        .map(|_| ()))?;
    let server = app
        .another_server(
            "mode = 'production'\nsandbox = false\nframe_origins = ['https://acs.bank.example/']",
        )
        .await?;
    let outcome = async {
        let response = reqwest::get(format!("http://{}/login", server.addr)).await?;
        let csp = header(&response, "content-security-policy");
        ensure(
            csp.contains(
                "frame-src 'self' https://acs.bank.example https://pi-test.acquirer.example:8443;",
            ),
            format!("frame-src lists the gateway and the setting: {csp}"),
        )?;
        ensure(
            header(&response, "strict-transport-security") == "max-age=63072000; includeSubDomains",
            "HSTS in production",
        )?;
        let response = reqwest::get(format!("http://{}/style/settle.css", server.addr)).await?;
        ensure(
            response.headers().contains_key("strict-transport-security"),
            "HSTS on every production response",
        )
    }
    .await;
    server.stop().await;
    outcome
}

pub async fn unknown_api_paths_and_methods_are_problem_details(app: TestApp) -> Result<()> {
    for path in ["/api/nope", "/api", "/api/v3/payment/nope/"] {
        let response = app.get(path).await?;
        let (status, content_type) = (response.status(), header(&response, "content-type"));
        let body: Value = response.json().await.unwrap_or_default();
        ensure(
            status == 404 && content_type == "application/problem+json" && body["status"] == 404,
            format!("{path} answers {status} {content_type} {body}"),
        )?;
    }
    // Pages keep their HTML 404.
    let page = app.get("/nope").await?;
    ensure(
        page.status() == 404 && header(&page, "content-type").starts_with("text/html"),
        "unknown pages are HTML 404 pages",
    )?;
    for (method, path) in
        [("DELETE", "/api/payments"), ("GET", "/api/auth/login"), ("PUT", "/api/payments/PAY-1")]
    {
        let response = app.client.request(method.parse()?, app.url(path)).send().await?;
        let (status, content_type) = (response.status(), header(&response, "content-type"));
        ensure(
            status == 405
                && content_type == "application/problem+json"
                && !header(&response, "allow").is_empty(),
            format!(
                "{method} {path} answers {status} {content_type} allow={:?}",
                header(&response, "allow")
            ),
        )?;
    }
    Ok(())
}

/// A client logged in with the role `path`'s prefix requires (anonymous for public ones).
async fn client_for(app: &TestApp, path: &str) -> Result<reqwest::Client> {
    let client = app.new_client();
    let login = match settle_server::web::guard::required_role(path) {
        Some(settle::account::Role::Customer) => Some((CUSTOMER_EMAIL, CUSTOMER_PASSWORD)),
        Some(settle::account::Role::Admin) => Some((ADMIN_EMAIL, ADMIN_PASSWORD)),
        Some(settle::account::Role::Operator) => Some((OPERATOR_EMAIL, OPERATOR_PASSWORD)),
        // No page prefix belongs to a merchant's API login (it never signs in to pages).
        Some(settle::account::Role::MerchantApi) | None => None,
    };
    if let Some((email, password)) = login {
        let response = app
            .post_form_with(&client, "/api/auth/login", &[("email", email), ("password", password)])
            .await?;
        ensure(response.status() == 302, format!("logging in as {email}"))?;
    }
    Ok(client)
}

pub async fn server_functions_answer_malformed_arguments_with_4xx(app: TestApp) -> Result<()> {
    let functions = settle_server::web::server_fns::registered();
    ensure(
        functions.len() >= 10,
        format!("the app's server functions are registered: {functions:?}"),
    )?;
    let form = "application/x-www-form-urlencoded";
    // (content type, body): missing, malformed and wrongly typed arguments.
    let payloads: &[(&str, &[u8])] = &[
        (form, b""),
        (form, b"%%%&&==&%zz"),
        (form, b"policy=NOPE&reference=NOPE&leave_when_done=maybe&ask_gateway=perhaps"),
        (form, b"policy[]=1&policy[x]=2&reference[0]=x&email[]=a"),
        (form, b"policy=%00%0d%0a&reference=%0d%0a&gateway=%C0%AF&next=%0d%0a"),
        (form, b"email=a%00%40b.example&password=%00&policy=%00&reference=%00&leave_when_done=true&ask_gateway=true"),
        (form, b"email=a&password=b&next=/%0d/x&policy=NOPE&gateway=nope&card_holder=x&card_number=4111111111111111&expiry_date=1&cv2=1"),
        (form, &[0xff, 0xfe, 0x00, 0x25, 0x80]),
        ("application/json", br#"{"policy": 5, "reference": [], "leave_when_done": "x"}"#),
        ("application/json", b"{"),
        ("text/plain", b"policy=NOPE"),
        ("multipart/form-data; boundary=x", b"--x\r\nnonsense"),
    ];
    let mut answered = 0;
    for (path, method) in &functions {
        // The login functions are public, so they are fuzzed anonymously: logging a role's
        // client out or in again would change its session under the loop.
        let client = client_for(&app, path).await?;
        for (content_type, body) in payloads {
            for from_page in [None, Some("/account")] {
                let response = client
                    .request(method.clone(), app.url(path))
                    .headers({
                        let mut h = app.same_origin_headers(from_page.unwrap_or(path));
                        if from_page.is_none() {
                            h.remove(reqwest::header::REFERER);
                            h.insert(reqwest::header::ACCEPT, "application/json".parse()?);
                        }
                        h.insert(CONTENT_TYPE, content_type.parse()?);
                        h
                    })
                    .body(body.to_vec())
                    .send()
                    .await;
                let response = response?;
                let status = response.status();
                ensure(
                    !status.is_server_error(),
                    format!(
                        "{method} {path} with {content_type} {:?} (from a page: {from_page:?}) answered {status}: {}",
                        String::from_utf8_lossy(body),
                        response.text().await.unwrap_or_default()
                    ),
                )?;
                answered += 1;
            }
        }
    }
    ensure(answered == functions.len() * payloads.len() * 2, "every request was answered")
}

pub async fn server_function_errors_carry_their_status(app: TestApp) -> Result<()> {
    let customer = client_for(&app, "/account").await?;
    let form = "application/x-www-form-urlencoded";
    // (function, arguments, status, message in the body)
    let cases: &[(&str, &str, u16, &str)] = &[
        ("/account/api/checkout", "policy=NOPE", 404, "We can't find that policy on your account."),
        ("/account/api/checkout", "", 400, "The form could not be read"),
        ("/account/api/checkout", "policy=", 400, "No policy was chosen"),
        ("/account/api/card", "policy=NOPE", 404, "We can't find that policy on your account."),
        (
            "/account/api/challenge",
            "reference=PAY-NOPE&leave_when_done=false",
            404,
            "We can't find that payment",
        ),
        (
            "/account/api/challenge",
            "reference=PAY-NOPE&leave_when_done=maybe",
            400,
            "The form could not be read",
        ),
        (
            "/account/api/payment_status",
            "reference=PAY-NOPE&ask_gateway=false",
            404,
            "We can't find that payment",
        ),
        ("/account/api/card", "policy=DEMO/0001/MOTOR/WEB", 409, "can't be paid by card"),
    ];
    for (path, args, status, message) in cases {
        let response = app.post_raw(&customer, path, form, args.to_string(), None).await?;
        let got = response.status().as_u16();
        let body = response.text().await?;
        ensure(
            got == *status && body.contains(message),
            format!("{path} {args:?}: expected {status} {message:?}, got {got} {body}"),
        )?;
    }
    // Another role's function is 403, nobody's 401; both still 4xx.
    let response = app.post_raw(&customer, "/admin/api/overview", form, "", None).await?;
    ensure(
        response.status() == 403,
        format!("a customer calling an admin function: {}", response.status()),
    )?;
    let response = app.post_raw(&app.new_client(), "/account/api/services", form, "", None).await?;
    ensure(
        response.status() == 401,
        format!("nobody calling a customer function: {}", response.status()),
    )?;

    // Without script, a malformed post still goes back to its page, with the message as the
    // page's flash (and no `__err` in the address).
    let page = format!("/account/checkout?policy={POLICY_NUMBER}");
    let response = app
        .post_raw(&customer, "/account/api/checkout_pay", form, "gateway[]=x", Some(&page))
        .await?;
    let back = location(&response);
    ensure(
        response.status() == 302 && back == app.url(&page),
        format!("no-script post answers {} -> {back}", response.status()),
    )?;
    let html = customer
        .get(app.url(&page))
        .header(reqwest::header::ACCEPT, "text/html")
        .send()
        .await?
        .text()
        .await?;
    ensure(html.contains("The form could not be read"), "the checkout page shows why")
}
