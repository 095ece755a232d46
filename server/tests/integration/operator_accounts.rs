//! The operator's merchants and users pages (issue 11): a merchant's secret is shown once and
//! works, rotations retire the old secret, origins and default return URLs are validated, users
//! of each role are opened, a disabled user loses their session and tokens at once, the
//! command line opens the first operator of an empty production database, and a customer gets
//! 403 everywhere here.

use anyhow::{Context, Result};
use serde_json::json;
use settle::demo::{
    ADMIN_EMAIL, CUSTOMER_EMAIL, CUSTOMER_PASSWORD, OPERATOR_EMAIL, OPERATOR_PASSWORD,
};
use settle::merchant::{Merchant, MerchantId};

use crate::support::operator_console::shown_secret;
use crate::support::{TestApp, TestDatabase, ensure, location, start_app};

/// Every page of this part, and every server function (with harmless arguments).
const PAGES: &[&str] = &[
    "/operator/merchants",
    "/operator/merchants/nothing-here",
    "/operator/merchants/nothing-here/secret",
    "/operator/users",
];
const SERVER_FNS: &[&str] = &[
    "merchants",
    "merchant_create",
    "merchant",
    "merchant_new_secret",
    "merchant_rotate_secret",
    "merchant_webhook",
    "merchant_rotate_webhook",
    "merchant_origins",
    "merchant_return_url",
    "merchant_api_user",
    "users",
    "user_create",
    "user_disable",
];

async fn as_operator(app: &TestApp) -> Result<()> {
    app.log_in(OPERATOR_EMAIL, OPERATOR_PASSWORD, "/operator").await
}

pub async fn a_new_merchants_secret_is_shown_once_and_gets_a_token(app: TestApp) -> Result<()> {
    as_operator(&app).await?;
    let page = app.get("/operator/merchants").await?;
    ensure(page.status() == 200, format!("merchants page: {}", page.status()))?;
    let html = page.text().await?;
    ensure(html.contains("Register a merchant"), "the page has the create form")?;
    ensure(html.contains("invoice-system-client"), "the demo merchant is listed")?;

    let shop = app
        .register_merchant(
            "Shop Example",
            "shop-backend",
            "https://hooks.shop.example/settle",
            "https://shop.example/checkout\nhttp://127.0.0.1:8080",
        )
        .await?;
    ensure(shop.client_secret.starts_with("stl_cs_"), "a generated client secret")?;
    ensure(
        shop.webhook_secret.as_deref().is_some_and(|s| s.starts_with("whsec_")),
        "the webhook signing secret is shown with it",
    )?;
    // Shown once: a reload shows it no more.
    let again = app.get(&format!("/operator/merchants/{}/secret", shop.id)).await?.text().await?;
    let again = crate::support::operator_console::unescaped(&again);
    ensure(shown_secret(&again, "client-secret").is_none(), "the secret is not shown twice")?;
    ensure(again.contains("shown once and can't be shown again"), "the page says why")?;
    // Stored only as a hash, and it works.
    let merchant = Merchant::by_client_id(&app.db, "shop-backend").await?.context("stored")?;
    let hash: String = settle::with_db!(&app.db, pool => sqlx::query_scalar("SELECT client_secret_hash FROM merchants WHERE id = $1")
        .bind(&merchant.id).fetch_one(pool).await)?;
    ensure(!hash.contains(&shop.client_secret), "the secret is stored hashed")?;
    ensure(
        app.client_credentials_work("shop-backend", &shop.client_secret).await?,
        "the shown secret gets a client-credentials token",
    )?;
    let origins: Vec<&str> = merchant.return_origins.iter().map(|o| o.as_str()).collect();
    ensure(
        origins == ["http://127.0.0.1:8080", "https://shop.example"],
        format!("origins saved as origins: {origins:?}"),
    )?;
    let endpoint = settle::webhook::Endpoint::find(&app.db, &merchant.id).await?.context("hook")?;
    ensure(
        Some(endpoint.secret.expose()) == shop.webhook_secret.as_deref(),
        "the endpoint signs with the secret shown",
    )?;
    ensure(app.audit_count("merchant.create").await? == 1, "the registration is audited")?;
    let detail = app.get(&format!("/operator/merchants/{}", shop.id)).await?.text().await?;
    ensure(
        detail.contains("shop-backend") && !detail.contains(&shop.client_secret),
        "the merchant page names the client, never its secret",
    )?;

    // Every problem is told at its field, and nothing is stored.
    let form = [
        ("name", " "),
        ("client_id", "has space"),
        ("webhook_url", "ftp://x"),
        ("return_origins", "https://ok.example\nnot a url"),
    ];
    let (to, html) = app.console_post_then_page("merchant_create", &form).await?;
    ensure(to == "/operator/merchants", format!("back to the form: {to}"))?;
    for message in [
        "Please correct the 4 details marked below.",
        "Name is required.",
        "Client id is required and may not contain spaces.",
        "Webhook URL must be an absolute http(s) URL.",
        "Return origins line 2 is not an absolute http(s) URL.",
    ] {
        ensure(html.contains(message), format!("the form says {message:?}"))?;
    }
    ensure(html.contains("has space"), "what was typed comes back")?;
    let taken = [("name", "Again"), ("client_id", "shop-backend"), ("return_origins", "")];
    let (_, html) = app.console_post_then_page("merchant_create", &taken).await?;
    ensure(html.contains("Client id is already another merchant's."), "a taken client id")?;
    ensure(Merchant::list(&app.db).await?.len() == 2, "only the demo merchant and the shop")
}

pub async fn rotated_secrets_retire_the_old_ones(app: TestApp) -> Result<()> {
    as_operator(&app).await?;
    let shop = app.register_merchant("Shop", "shop-rotate", "", "https://shop.example").await?;
    ensure(shop.webhook_secret.is_none(), "no webhook, no webhook secret")?;
    let (to, html) =
        app.console_post_then_page("merchant_rotate_secret", &[("id", &shop.id)]).await?;
    ensure(to.ends_with("/secret"), format!("the new secret is shown: {to}"))?;
    let new = shown_secret(&html, "client-secret").context("the new client secret")?;
    ensure(new != shop.client_secret, "a different secret")?;
    ensure(
        !app.client_credentials_work(&shop.client_id, &shop.client_secret).await?,
        "the old secret fails at once",
    )?;
    ensure(app.client_credentials_work("shop-rotate", &new).await?, "the new secret works")?;
    ensure(app.audit_count("merchant.secret.rotate").await? == 1, "the rotation is audited")?;

    // Rotating the webhook secret of a merchant without an endpoint says what to do first.
    let (to, html) =
        app.console_post_then_page("merchant_rotate_webhook", &[("id", &shop.id)]).await?;
    ensure(!to.ends_with("/secret") && html.contains("set its URL first"), "no endpoint yet")?;
    // The first URL makes the endpoint and shows its secret once.
    let form = [("id", shop.id.as_str()), ("webhook_url", "https://hooks.shop.example/in")];
    let (_, html) = app.console_post_then_page("merchant_webhook", &form).await?;
    let first = shown_secret(&html, "webhook-secret").context("the endpoint's secret")?;
    let (_, html) =
        app.console_post_then_page("merchant_rotate_webhook", &[("id", &shop.id)]).await?;
    let second = shown_secret(&html, "webhook-secret").context("the rotated secret")?;
    ensure(first != second, "a new webhook secret")?;
    let endpoint = settle::webhook::Endpoint::find(&app.db, &MerchantId::from_string(&shop.id))
        .await?
        .context("the endpoint")?;
    ensure(endpoint.secret.expose() == second, "the new secret signs")?;
    ensure(
        endpoint.previous_secret.as_ref().map(|s| s.expose()) == Some(first.as_str()),
        "the old one signs too during the overlap",
    )?;
    // A second URL change keeps the secret and shows none.
    let form = [("id", shop.id.as_str()), ("webhook_url", "https://hooks.shop.example/v2")];
    let (to, html) = app.console_post_then_page("merchant_webhook", &form).await?;
    ensure(!to.ends_with("/secret") && html.contains("webhook URL is saved"), "URL changed")?;
    let form = [("id", shop.id.as_str()), ("webhook_url", "not a url")];
    let (_, html) = app.console_post_then_page("merchant_webhook", &form).await?;
    ensure(html.contains("Webhook URL must be an absolute http(s) URL."), "bad URL refused")?;
    ensure(app.audit_count("merchant.webhook.rotate").await? == 1, "audited")?;
    ensure(app.audit_count("merchant.webhook.set").await? == 2, "both URL changes audited")
}

pub async fn origins_return_urls_and_api_logins_are_validated_and_saved(
    app: TestApp,
) -> Result<()> {
    as_operator(&app).await?;
    let shop = app.register_merchant("Shop", "shop-urls", "", "https://shop.example").await?;
    let id = MerchantId::from_string(&shop.id);
    let origins =
        |lines: &'static str| [("id", shop.id.clone()), ("return_origins", lines.to_owned())];
    let form = origins("https://shop.example\njavascript:alert(1)");
    let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let (_, html) = app.console_post_then_page("merchant_origins", &form).await?;
    ensure(html.contains("Return origins line 2 is not an absolute http(s) URL."), "bad line")?;
    let form = origins("https://shop.example/done\nhttps://pay.shop.example");
    let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let (_, html) = app.console_post_then_page("merchant_origins", &form).await?;
    ensure(html.contains("return origins are saved"), "saved")?;
    let merchant = Merchant::find(&app.db, &id).await?.context("merchant")?;
    let saved: Vec<&str> = merchant.return_origins.iter().map(|o| o.as_str()).collect();
    ensure(saved == ["https://pay.shop.example", "https://shop.example"], format!("{saved:?}"))?;

    // Default return URLs: on a registered origin, for a known gateway (or all of them).
    let set = |gateway: &str, url: &str| {
        vec![
            ("id", shop.id.clone()),
            ("gateway", gateway.to_owned()),
            ("return_url", url.to_owned()),
        ]
    };
    for (gateway, url, message) in [
        ("*", "https://elsewhere.example/done", "must be on one of the merchant's return origins"),
        (
            "no-such-gateway",
            "https://shop.example/done",
            "Gateway must be one of the gateways listed.",
        ),
        ("*", "not a url", "Return URL must be an absolute http(s) URL."),
    ] {
        let form = set(gateway, url);
        let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let (_, html) = app.console_post_then_page("merchant_return_url", &form).await?;
        ensure(html.contains(message), format!("{gateway} {url}: says {message:?}"))?;
    }
    for (gateway, url) in
        [("*", "https://shop.example/thanks"), ("payfort-aed", "https://pay.shop.example/aed")]
    {
        let form = set(gateway, url);
        let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let (_, html) = app.console_post_then_page("merchant_return_url", &form).await?;
        ensure(html.contains("default return URL is saved"), format!("{gateway} saved"))?;
    }
    let page = |g: &'static str| settle::checkout::return_to::completion_page(&app.db, &id, g);
    ensure(
        page("payfort-aed").await?.map(|u| u.to_string()).as_deref()
            == Some("https://pay.shop.example/aed"),
        "the gateway's own page wins",
    )?;
    ensure(
        page("sagepay-zar").await?.map(|u| u.to_string()).as_deref()
            == Some("https://shop.example/thanks"),
        "other gateways use the page for all",
    )?;
    // An origin a return URL still uses can't be dropped.
    let form = origins("https://shop.example");
    let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let (_, html) = app.console_post_then_page("merchant_origins", &form).await?;
    ensure(html.contains("must keep the origin of https://pay.shop.example/aed"), "kept origin")?;
    // Removing the return URL, then the origin, works.
    let form = set("payfort-aed", "");
    let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let (_, html) = app.console_post_then_page("merchant_return_url", &form).await?;
    ensure(html.contains("default return URL is removed"), "removed")?;
    ensure(app.audit_count("merchant.return_url.set").await? == 3, "return URLs audited")?;

    // The merchant's API login gets password-grant tokens through the merchant's client.
    let form = [
        ("id", shop.id.as_str()),
        ("api_email", "not-an-email"),
        ("api_name", ""),
        ("api_password", "short"),
    ];
    let (_, html) = app.console_post_then_page("merchant_api_user", &form).await?;
    ensure(html.contains("Email ") && html.contains("Password must be at least"), "problems")?;
    ensure(!html.contains(r#"value="short""#), "the password never comes back")?;
    let form = [
        ("id", shop.id.as_str()),
        ("api_email", "api@shop.example"),
        ("api_name", "Shop backend"),
        ("api_password", "shop-api-password"),
    ];
    let (_, html) = app.console_post_then_page("merchant_api_user", &form).await?;
    ensure(html.contains("api@shop.example can now get API tokens"), "opened")?;
    let secret = shop.client_secret.clone();
    let response = app
        .new_client()
        .post(app.url("/oauth/token"))
        .form(&[
            ("grant_type", "password"),
            ("client_id", "shop-urls"),
            ("client_secret", secret.as_str()),
            ("username", "api@shop.example"),
            ("password", "shop-api-password"),
        ])
        .send()
        .await?;
    ensure(response.status() == 200, format!("API login's token: {}", response.status()))?;
    ensure(app.audit_count("merchant.api_user.create").await? == 1, "audited")
}

pub async fn operators_open_accounts_of_each_role(app: TestApp) -> Result<()> {
    as_operator(&app).await?;
    let page = app.get("/operator/users").await?;
    ensure(page.status() == 200, format!("users page: {}", page.status()))?;
    let html = page.text().await?;
    ensure(html.contains(ADMIN_EMAIL) && html.contains(CUSTOMER_EMAIL), "accounts are listed")?;
    for (role, email, home) in [
        ("admin", "new-admin@settle.test", "/admin"),
        ("operator", "new-operator@settle.test", "/operator"),
        ("customer", "new-customer@settle.test", "/account"),
    ] {
        let form = [
            ("role", role),
            ("email", email),
            ("display_name", "New Person"),
            ("password", "a-long-enough-password"),
            ("customer_code", ""),
        ];
        let (to, html) = app.console_post_then_page("user_create", &form).await?;
        ensure(to == "/operator/users", format!("back to the list: {to}"))?;
        ensure(html.contains(&format!("{email} can now log in as {role}")), "says so")?;
        let person = app.another_browser();
        person.log_in(email, "a-long-enough-password", home).await?;
        let user = settle::account::User::find(
            &app.db,
            &settle::account::UserId::from_string(app.user_id(email).await?),
        )
        .await?
        .context("the account")?;
        ensure(user.customer_id.is_some() == (role == "customer"), "customers get a record")?;
    }
    ensure(app.audit_count("user.create").await? == 3, "each account is audited")?;

    let form = [
        ("role", "merchant_api"),
        ("email", "nope"),
        ("display_name", ""),
        ("password", "short"),
        ("customer_code", "X"),
    ];
    let (_, html) = app.console_post_then_page("user_create", &form).await?;
    for message in
        ["Role can't be a merchant's API login here", "Password must be at least 10 characters."]
    {
        ensure(html.contains(message), format!("says {message:?}: {html}"))?;
    }
    ensure(html.contains("Email "), "the email's problem is named")?;
    let taken = [
        ("role", "admin"),
        ("email", ADMIN_EMAIL),
        ("display_name", ""),
        ("password", "a-long-enough-password"),
        ("customer_code", ""),
    ];
    let (_, html) = app.console_post_then_page("user_create", &taken).await?;
    ensure(html.contains("Email already has an account."), "a taken email is refused")
}

pub async fn a_disabled_user_loses_session_and_tokens_at_once(app: TestApp) -> Result<()> {
    // The customer is logged in and holds an API token.
    let customer = app.another_browser();
    customer.log_in(CUSTOMER_EMAIL, CUSTOMER_PASSWORD, "/account").await?;
    let token = customer.customer_token().await?;
    let userinfo = |token: String| {
        let app = &app;
        async move {
            Ok::<u16, anyhow::Error>(
                app.new_client()
                    .get(app.url("/oauth/userinfo"))
                    .bearer_auth(token)
                    .send()
                    .await?
                    .status()
                    .as_u16(),
            )
        }
    };
    ensure(userinfo(token.clone()).await? == 200, "the token works before")?;

    as_operator(&app).await?;
    let id = app.user_id(CUSTOMER_EMAIL).await?;
    let (_, html) = app.console_post_then_page("user_disable", &[("id", &id)]).await?;
    ensure(html.contains("is disabled"), "the operator is told")?;
    ensure(html.contains("Disabled on"), "the list shows it")?;
    ensure(app.audit_count("user.disable").await? == 1, "audited")?;

    // At once: the token is refused and the open session is logged out with the reason.
    ensure(userinfo(token).await? == 401, "the token is refused at once")?;
    let account = customer.get("/account").await?;
    ensure(
        account.status().is_redirection() && location(&account).starts_with("/login"),
        format!("the session is over: {} {}", account.status(), location(&account)),
    )?;
    let login = customer.get("/login").await?.text().await?;
    ensure(login.contains("This account is disabled."), "the login page says why")?;
    // The right password no longer logs in, and says why; the token endpoint refuses too.
    let response = customer
        .post_form("/api/auth/login", &[("email", CUSTOMER_EMAIL), ("password", CUSTOMER_PASSWORD)])
        .await?;
    ensure(location(&response) == "/login", "login refused")?;
    let login = customer.get("/login").await?.text().await?;
    ensure(login.contains("This account is disabled."), "with the message")?;
    ensure(customer.customer_token().await.is_err(), "no new token")?;
    // A wrong password still looks like any wrong password (nothing revealed).
    customer
        .post_form("/api/auth/login", &[("email", CUSTOMER_EMAIL), ("password", "guess")])
        .await?;
    let login = customer.get("/login").await?.text().await?;
    ensure(login.contains("Email or password is wrong."), "wrong password, usual answer")?;

    // Disabling again is a notice; an operator can't disable themselves.
    let (_, html) = app.console_post_then_page("user_disable", &[("id", &id)]).await?;
    ensure(html.contains("already disabled"), "twice")?;
    let me = app.user_id(OPERATOR_EMAIL).await?;
    let (_, html) = app.console_post_then_page("user_disable", &[("id", &me)]).await?;
    ensure(html.contains("can't disable your own account"), "not oneself")?;
    app.get("/operator/users").await.map(|_| ())
}

pub async fn a_customer_gets_403_on_every_page_and_function_here(app: TestApp) -> Result<()> {
    app.log_in(CUSTOMER_EMAIL, CUSTOMER_PASSWORD, "/account").await?;
    for path in PAGES {
        let page = app.get(path).await?;
        ensure(page.status() == 403, format!("customer on {path}: {}", page.status()))?;
    }
    for endpoint in SERVER_FNS {
        let path = format!("/operator/api/{endpoint}");
        let response = app.post_form(&path, &[("id", "x")]).await?;
        ensure(
            response.status() == 403,
            format!("customer posting {path}: {}", response.status()),
        )?;
        let response =
            app.client.post(app.url(&path)).header("accept", "application/json").send().await?;
        ensure(
            response.status() == 403,
            format!("customer calling {path}: {}", response.status()),
        )?;
    }
    // An admin is refused too: the console's configuration is the operator's.
    let admin = app.another_browser();
    admin.log_in(ADMIN_EMAIL, settle::demo::ADMIN_PASSWORD, "/admin").await?;
    ensure(admin.get("/operator/users").await?.status() == 403, "admins get 403 here")?;
    // And an operator gets each page.
    let operator = app.another_browser();
    as_operator(&operator).await?;
    for path in ["/operator/merchants", "/operator/users"] {
        let page = operator.get(path).await?;
        ensure(page.status() == 200, format!("operator on {path}: {}", page.status()))?;
    }
    Ok(())
}

/// `settle-server create-user --role operator` on an empty production database, then the
/// operator logs in and registers the first merchant, whose secret gets a token.
pub async fn create_user_opens_the_first_operator_of_an_empty_production_database(
    db: TestDatabase,
) -> Result<()> {
    use std::io::Write;
    use std::process::{Command, Stdio};

    let scratch = crate::support::process::Scratch::new("create-user")?;
    let mut child = Command::new(crate::support::process::BINARY)
        .args(["create-user", "--role", "operator", "--email", "ops@prod.example", "--name", "Ops"])
        .current_dir(&scratch.dir)
        .env("DATABASE_URL", &db.url)
        .env("SETTLE_MODE", "production")
        .env_remove("SETTLE_NEW_USER_PASSWORD")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    child.stdin.take().context("stdin")?.write_all(b"first-operator-password\n")?;
    let output = child.wait_with_output()?;
    let said = String::from_utf8_lossy(&output.stdout).into_owned()
        + &String::from_utf8_lossy(&output.stderr);
    ensure(output.status.success(), format!("create-user failed: {said}"))?;
    ensure(said.contains("created operator ops@prod.example"), format!("it says so: {said}"))?;
    // A second run with a short password is refused with the reason.
    let mut child = Command::new(crate::support::process::BINARY)
        .args(["create-user", "--role", "admin", "--email", "x@prod.example"])
        .current_dir(&scratch.dir)
        .env("DATABASE_URL", &db.url)
        .env("SETTLE_MODE", "production")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    child.stdin.take().context("stdin")?.write_all(b"short\n")?;
    let output = child.wait_with_output()?;
    let said = String::from_utf8_lossy(&output.stderr).into_owned();
    ensure(!output.status.success() && said.contains("password: must be at least"), said)?;

    let settings = [("mode", json!("production")), ("secure_cookies", json!(false))];
    let running = start_app(&db, &settings).await?;
    let outcome = first_operator_sets_up(&running.app).await;
    running.stop().await;
    outcome
}

async fn first_operator_sets_up(app: &TestApp) -> Result<()> {
    let users = settle::account::User::list(&app.db, 10).await?;
    ensure(users.len() == 1, format!("only the operator exists: {}", users.len()))?;
    ensure(Merchant::list(&app.db).await?.is_empty(), "no demo merchant in production")?;
    let actor: String = settle::with_db!(&app.db, pool => sqlx::query_scalar("SELECT actor FROM audit_log WHERE action = 'user.create'")
        .fetch_one(pool).await)?;
    ensure(actor == "command line", format!("audited as the command line: {actor}"))?;
    app.log_in("ops@prod.example", "first-operator-password", "/operator").await?;
    let shop =
        app.register_merchant("First Shop", "first-shop", "", "https://first.example").await?;
    ensure(
        app.client_credentials_work("first-shop", &shop.client_secret).await?,
        "the first merchant's secret gets a token",
    )
}
