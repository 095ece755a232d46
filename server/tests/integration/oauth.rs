//! The OAuth2 token endpoint as seed 001's client uses it (password grant with `client_id`),
//! client credentials for merchant systems, and RFC 6749 errors.

use anyhow::Result;
use serde_json::Value;
use settle::demo::{CUSTOMER_EMAIL, CUSTOMER_PASSWORD, MERCHANT_CLIENT_ID, MERCHANT_CLIENT_SECRET};

use crate::support::{TestApp, ensure};

/// Form fields of a token request.
type Form<'a> = &'a [(&'a str, &'a str)];

const KEYCLOAK_TOKEN: &str = "/auth/realms/PGW/protocol/openid-connect/token";

async fn token(app: &TestApp, path: &str, form: &[(&str, &str)]) -> Result<(u16, Value)> {
    let response = app.client.post(app.url(path)).form(form).send().await?;
    let status = response.status().as_u16();
    ensure(
        response.headers().get("cache-control").is_some_and(|v| v == "no-store"),
        "token responses are not cached",
    )?;
    Ok((status, response.json().await?))
}

pub async fn password_grant_issues_a_bearer_token(app: TestApp) -> Result<()> {
    // Exactly seed 001's request: username, password, grant_type=password, client_id.
    let (status, body) = token(
        &app,
        KEYCLOAK_TOKEN,
        &[
            ("username", CUSTOMER_EMAIL),
            ("password", CUSTOMER_PASSWORD),
            ("grant_type", "password"),
            ("client_id", MERCHANT_CLIENT_ID),
        ],
    )
    .await?;
    ensure(status == 200, format!("password grant: {status} {body}"))?;
    ensure(body["token_type"] == "Bearer", "token_type is Bearer")?;
    ensure(body["expires_in"].as_i64().is_some_and(|s| s > 0), "expires_in is given")?;
    let access = body["access_token"].as_str().unwrap_or_default().to_owned();
    ensure(access.len() > 40, "an opaque token")?;

    let me: Value = app
        .client
        .get(app.url("/oauth/userinfo"))
        .bearer_auth(&access)
        .send()
        .await?
        .json()
        .await?;
    ensure(
        me["email"] == CUSTOMER_EMAIL && me["client_id"] == MERCHANT_CLIENT_ID,
        format!("userinfo {me}"),
    )?;
    ensure(me["grant_type"] == "password", "the grant is recorded")?;

    // Tokens are stored hashed, never in clear.
    let stored: i64 = settle::with_db!(&app.db, pool => sqlx::query_scalar("SELECT COUNT(*) FROM api_tokens WHERE token_hash = $1")
        .bind(&access).fetch_one(pool).await)?;
    ensure(stored == 0, "the clear token is not in the database")
}

pub async fn client_credentials_grant_by_form_and_by_basic_auth(app: TestApp) -> Result<()> {
    let (status, body) = token(
        &app,
        "/oauth/token",
        &[
            ("grant_type", "client_credentials"),
            ("client_id", MERCHANT_CLIENT_ID),
            ("client_secret", MERCHANT_CLIENT_SECRET),
        ],
    )
    .await?;
    ensure(status == 200, format!("client credentials in the form: {status} {body}"))?;

    let response = app
        .client
        .post(app.url("/oauth/token"))
        .basic_auth(MERCHANT_CLIENT_ID, Some(MERCHANT_CLIENT_SECRET))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await?;
    ensure(
        response.status() == 200,
        format!("client credentials by Basic auth: {}", response.status()),
    )?;
    let body: Value = response.json().await?;
    let access = body["access_token"].as_str().unwrap_or_default();
    let me: Value =
        app.client.get(app.url("/oauth/userinfo")).bearer_auth(access).send().await?.json().await?;
    ensure(
        me["sub"] == MERCHANT_CLIENT_ID && me["email"].is_null(),
        format!("a client token has no user: {me}"),
    )
}

pub async fn bad_grants_get_rfc6749_errors(app: TestApp) -> Result<()> {
    // (form fields, expected status, expected `error`)
    let cases: &[(Form, u16, &str)] = &[
        (
            &[
                ("grant_type", "password"),
                ("client_id", MERCHANT_CLIENT_ID),
                ("username", CUSTOMER_EMAIL),
                ("password", "wrong"),
            ],
            400,
            "invalid_grant",
        ),
        (
            &[
                ("grant_type", "password"),
                ("client_id", "no-such-client"),
                ("username", CUSTOMER_EMAIL),
                ("password", CUSTOMER_PASSWORD),
            ],
            401,
            "invalid_client",
        ),
        (
            &[
                ("grant_type", "client_credentials"),
                ("client_id", MERCHANT_CLIENT_ID),
                ("client_secret", "wrong-secret-wrong-secret"),
            ],
            401,
            "invalid_client",
        ),
        (
            &[("grant_type", "client_credentials"), ("client_id", MERCHANT_CLIENT_ID)],
            401,
            "invalid_client",
        ),
        (
            &[("grant_type", "authorization_code"), ("client_id", MERCHANT_CLIENT_ID)],
            400,
            "unsupported_grant_type",
        ),
        (&[("client_id", MERCHANT_CLIENT_ID)], 400, "invalid_request"),
        (&[("grant_type", "password")], 400, "invalid_request"),
        (
            &[
                ("grant_type", "password"),
                ("client_id", MERCHANT_CLIENT_ID),
                ("username", CUSTOMER_EMAIL),
            ],
            400,
            "invalid_request",
        ),
    ];
    for (form, want_status, want_error) in cases {
        let (status, body) = token(&app, "/oauth/token", form).await?;
        ensure(
            status == *want_status && body["error"] == *want_error,
            format!("{form:?}: got {status} {body}, want {want_status} {want_error}"),
        )?;
        ensure(body["error_description"].is_string(), "errors carry a description")?;
    }
    // JSON instead of a form is a clear 400, not a 415 or a 500.
    let response = app
        .client
        .post(app.url("/oauth/token"))
        .json(&serde_json::json!({ "grant_type": "client_credentials" }))
        .send()
        .await?;
    ensure(response.status() == 400, format!("JSON body: {}", response.status()))?;
    let body: Value = response.json().await?;
    ensure(body["error"] == "invalid_request", format!("JSON body error {body}"))?;

    // The password grant is throttled like the login form.
    for _ in 0..5 {
        token(
            &app,
            "/oauth/token",
            &[
                ("grant_type", "password"),
                ("client_id", MERCHANT_CLIENT_ID),
                ("username", CUSTOMER_EMAIL),
                ("password", "guess"),
            ],
        )
        .await?;
    }
    let response = app
        .client
        .post(app.url("/oauth/token"))
        .form(&[
            ("grant_type", "password"),
            ("client_id", MERCHANT_CLIENT_ID),
            ("username", CUSTOMER_EMAIL),
            ("password", CUSTOMER_PASSWORD),
        ])
        .send()
        .await?;
    ensure(response.status() == 429, format!("throttled password grant: {}", response.status()))?;
    ensure(response.headers().contains_key("retry-after"), "429 carries Retry-After")
}

pub async fn bearer_tokens_are_checked(app: TestApp) -> Result<()> {
    let none = app.client.get(app.url("/oauth/userinfo")).send().await?;
    ensure(none.status() == 401, format!("no token: {}", none.status()))?;
    ensure(
        none.headers()
            .get("www-authenticate")
            .is_some_and(|v| v.to_str().unwrap_or("").starts_with("Bearer")),
        "401 challenges for a bearer token",
    )?;
    ensure(
        none.headers().get("content-type").is_some_and(|v| v == "application/problem+json"),
        "errors are problem details",
    )?;
    let forged =
        app.client.get(app.url("/oauth/userinfo")).bearer_auth("stl_at_forged").send().await?;
    ensure(forged.status() == 401, format!("unknown token: {}", forged.status()))?;
    let problem: Value = forged.json().await?;
    ensure(
        problem["status"] == 401 && problem["detail"].is_string(),
        format!("problem body {problem}"),
    )?;

    // An expired token stops working.
    let merchant = settle::merchant::Merchant::by_client_id(&app.db, MERCHANT_CLIENT_ID)
        .await?
        .ok_or_else(|| anyhow::anyhow!("demo merchant"))?;
    let expired = settle::api_token::issue(
        &app.db,
        &merchant.id,
        None,
        settle::api_token::GrantType::ClientCredentials,
        chrono::Duration::seconds(-1),
    )
    .await?;
    let response = app
        .client
        .get(app.url("/oauth/userinfo"))
        .bearer_auth(&expired.access_token)
        .send()
        .await?;
    ensure(response.status() == 401, format!("expired token: {}", response.status()))
}
