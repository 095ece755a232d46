//! Logins, sessions, roles and CSRF, through the pages a browser uses.

use anyhow::Result;
use settle::demo::{
    ADMIN_EMAIL, ADMIN_PASSWORD, CUSTOMER_EMAIL, CUSTOMER_NAME, CUSTOMER_PASSWORD, OPERATOR_EMAIL,
    OPERATOR_PASSWORD,
};

use crate::support::{TestApp, ensure, location};

fn session_cookie(response: &reqwest::Response) -> Option<String> {
    response.cookies().find(|c| c.name() == "settle_session").map(|c| c.value().to_owned())
}

pub async fn customer_logs_in_and_sees_their_services(app: TestApp) -> Result<()> {
    let page = app.get("/login").await?;
    ensure(page.status() == 200, "login page answers 200")?;
    let html = page.text().await?;
    ensure(
        html.contains(r#"name="email""#) && html.contains(r#"name="password""#),
        "login form has fields",
    )?;

    app.log_in(CUSTOMER_EMAIL, CUSTOMER_PASSWORD, "/account").await?;
    let home = app.get("/account").await?;
    ensure(home.status() == 200, format!("account page answers {}", home.status()))?;
    let html = home.text().await?;
    ensure(html.contains(CUSTOMER_NAME), "the customer's name is on their home page")?;
    ensure(html.contains(settle::demo::POLICY_NUMBER), "the policy awaiting checkout is listed")?;
    ensure(html.contains("AED 5,100.00"), "the premium due is shown with tax, as people read it")?;
    ensure(html.contains(settle::demo::ISP_SERVICE_ID), "the ISP service is listed")?;
    ensure(html.contains("In arrears"), "its arrears are shown in words")?;
    ensure(
        !html.contains("InArrears") && !html.contains("Unbilled") && !html.contains(">quoted<"),
        "no internal codes reach the customer",
    )
}

pub async fn wrong_password_is_refused_with_a_message(app: TestApp) -> Result<()> {
    let response = app
        .post_form("/api/auth/login", &[("email", CUSTOMER_EMAIL), ("password", "not it")])
        .await?;
    ensure(
        response.status() == 302 && location(&response) == "/login",
        "sent back to the login page",
    )?;
    let page = app.get("/login").await?.text().await?;
    ensure(page.contains("Email or password is wrong."), "the login page says why")?;
    ensure(
        page.contains(&format!(r#"value="{CUSTOMER_EMAIL}""#)) && !page.contains("not it"),
        "the email comes back, the password never does",
    )?;
    // The message is shown once.
    let again = app.get("/login").await?.text().await?;
    ensure(!again.contains("Email or password is wrong."), "the flash is shown only once")?;
    ensure(!again.contains(CUSTOMER_EMAIL), "the email is put back once")?;
    let account = app.get("/account").await?;
    ensure(
        account.status() == 303 || account.status() == 302,
        format!("not logged in: /account answers {}", account.status()),
    )?;
    ensure(
        location(&account) == "/login?next=%2Faccount",
        format!("redirects to login, got {}", location(&account)),
    )?;

    // An unknown email gets the same answer as a wrong password.
    app.post_form("/api/auth/login", &[("email", "nobody@settle.test"), ("password", "x")]).await?;
    let page = app.get("/login").await?.text().await?;
    ensure(page.contains("Email or password is wrong."), "unknown emails look like wrong passwords")
}

pub async fn login_renews_the_session_id(app: TestApp) -> Result<()> {
    // A failed login leaves a session (holding the flash message)…
    let failed = app
        .post_form("/api/auth/login", &[("email", CUSTOMER_EMAIL), ("password", "wrong")])
        .await?;
    let before = session_cookie(&failed)
        .ok_or_else(|| anyhow::anyhow!("a session cookie after the failure"))?;
    app.get("/login").await?;
    // …whose id must not survive the successful login.
    let ok = app
        .post_form("/api/auth/login", &[("email", CUSTOMER_EMAIL), ("password", CUSTOMER_PASSWORD)])
        .await?;
    let after =
        session_cookie(&ok).ok_or_else(|| anyhow::anyhow!("a session cookie after login"))?;
    ensure(before != after, "the session id changes at login")?;
    // The old id is worthless.
    let attacker = app.new_client();
    let stale = attacker
        .get(app.url("/account"))
        .header("cookie", format!("settle_session={before}"))
        .send()
        .await?;
    ensure(
        stale.status().is_redirection(),
        format!("pre-login session id gives {}", stale.status()),
    )
}

pub async fn failures_lock_the_account_then_the_address(app: TestApp) -> Result<()> {
    for _ in 0..5 {
        app.post_form("/api/auth/login", &[("email", CUSTOMER_EMAIL), ("password", "guess")])
            .await?;
    }
    // Now even the right password is refused, and the page says why.
    let response = app
        .post_form("/api/auth/login", &[("email", CUSTOMER_EMAIL), ("password", CUSTOMER_PASSWORD)])
        .await?;
    ensure(location(&response) == "/login", "the right password is refused while locked")?;
    let page = app.get("/login").await?.text().await?;
    ensure(page.contains("Too many failed attempts"), "the page says the account is locked")?;
    // Other accounts are still open from this address (5 < 20 failures so far)…
    app.log_in(ADMIN_EMAIL, ADMIN_PASSWORD, "/admin").await?;
    // …until the address itself passes its limit.
    let other = app.new_client();
    for i in 0..15 {
        let email = format!("nobody{i}@settle.test");
        app.post_form_with(&other, "/api/auth/login", &[("email", &email), ("password", "guess")])
            .await?;
    }
    let refused = app
        .post_form_with(
            &other,
            "/api/auth/login",
            &[("email", OPERATOR_EMAIL), ("password", OPERATOR_PASSWORD)],
        )
        .await?;
    ensure(location(&refused) == "/login", "an address over its limit can't log in to any account")
}

pub async fn logout_ends_the_session(app: TestApp) -> Result<()> {
    app.log_in(CUSTOMER_EMAIL, CUSTOMER_PASSWORD, "/account").await?;
    let out = app.post_form("/api/auth/logout", &[]).await?;
    ensure(
        location(&out) == "/login?logged_out=1",
        format!("logout redirects, got {}", location(&out)),
    )?;
    let page = app.get("/login?logged_out=1").await?.text().await?;
    ensure(page.contains("You have logged out."), "the login page confirms")?;
    let account = app.get("/account").await?;
    ensure(account.status().is_redirection(), "the session no longer opens the account page")
}

pub async fn pages_and_server_functions_enforce_roles(app: TestApp) -> Result<()> {
    // Logged out: pages redirect to login, server functions answer 401.
    let admin = app.get("/admin").await?;
    ensure(location(&admin) == "/login?next=%2Fadmin", "logged-out /admin goes to login")?;
    let checkout = app.get("/account/checkout?policy=DEMO/0001/MOTOR/WEB").await?;
    ensure(
        location(&checkout)
            == "/login?next=%2Faccount%2Fcheckout%3Fpolicy%3DDEMO%2F0001%2FMOTOR%2FWEB",
        format!("the login keeps where the customer was going: {}", location(&checkout)),
    )?;
    let api = app.client.post(app.url("/admin/api/overview")).send().await?;
    ensure(api.status() == 401, format!("logged-out server function: {}", api.status()))?;

    // A customer gets 403 on admin and operator pages and server functions.
    app.log_in(CUSTOMER_EMAIL, CUSTOMER_PASSWORD, "/account").await?;
    for path in ["/admin", "/operator"] {
        let page = app.get(path).await?;
        ensure(page.status() == 403, format!("customer on {path}: {}", page.status()))?;
        let html = page.text().await?;
        ensure(html.contains("Not allowed"), "the 403 page explains")?;
        ensure(
            html.contains(r#"<header class="top">"#) && html.contains("My account"),
            "the 403 page has the site's header",
        )?;
    }
    for path in ["/admin/api/overview", "/operator/api/configuration"] {
        let response =
            app.client.post(app.url(path)).header("accept", "application/json").send().await?;
        ensure(
            response.status() == 403,
            format!("customer calling {path}: {}", response.status()),
        )?;
    }
    let own = app
        .client
        .post(app.url("/account/api/services"))
        .header("accept", "application/json")
        .send()
        .await?;
    ensure(
        own.status() == 200,
        format!("customer calling their own server function: {}", own.status()),
    )?;

    // An admin may use the admin console and its server functions, but not customer pages.
    let admin = TestApp { client: app.new_client(), ..app };
    admin.log_in(ADMIN_EMAIL, ADMIN_PASSWORD, "/admin").await?;
    let page = admin.get("/admin").await?;
    ensure(
        page.status() == 200 && page.text().await?.contains("Payments console"),
        "admin console renders",
    )?;
    let counts: serde_json::Value = admin
        .client
        .post(admin.url("/admin/api/overview"))
        .header("accept", "application/json")
        .send()
        .await?
        .json()
        .await?;
    // The demo customer's four open purchases, plus the history's still-open ones (its own
    // customers and services).
    let sql = "SELECT COUNT(*) FROM purchases p JOIN services s ON s.id = p.service_id
               WHERE p.status = 'open' AND s.reference LIKE 'HIST/%'";
    let history_open: i64 =
        settle::with_db!(&admin.db, pool => sqlx::query_scalar(sql).fetch_one(pool).await)?;
    ensure(
        counts["customers"] == 1 + settle::demo::history::CUSTOMERS as i64
            && history_open > 0
            && counts["open_purchases"] == 4 + history_open,
        format!("admin overview {counts}, history open {history_open}"),
    )?;
    ensure(admin.get("/account").await?.status() == 403, "admins get 403 on customer pages")?;

    // Operators see the configuration.
    let operator = TestApp { client: admin.new_client(), ..admin };
    operator.log_in(OPERATOR_EMAIL, OPERATOR_PASSWORD, "/operator").await?;
    let page = operator.get("/operator").await?.text().await?;
    ensure(
        page.contains("payfort-aed") && page.contains("LTE Day Bundle"),
        "operator sees gateways and products",
    )
}

pub async fn cross_site_form_posts_are_refused(app: TestApp) -> Result<()> {
    app.log_in(CUSTOMER_EMAIL, CUSTOMER_PASSWORD, "/account").await?;
    // A form on another site posting to our logout (a browser would attach the cookie).
    let forged = app
        .client
        .post(app.url("/api/auth/logout"))
        .header("accept", "text/html")
        .header("origin", "https://evil.example")
        .send()
        .await?;
    ensure(forged.status() == 403, format!("cross-origin post: {}", forged.status()))?;
    let forged = app
        .client
        .post(app.url("/api/auth/login"))
        .header("sec-fetch-site", "cross-site")
        .form(&[("email", CUSTOMER_EMAIL), ("password", CUSTOMER_PASSWORD)])
        .send()
        .await?;
    ensure(forged.status() == 403, format!("cross-site post: {}", forged.status()))?;
    ensure(app.get("/account").await?.status() == 200, "the session survived the forged posts")
}
