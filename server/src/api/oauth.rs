//! The OAuth2 token endpoint (RFC 6749), at `/oauth/token` and at the Keycloak path seed 001's
//! clients call (`/auth/realms/{realm}/protocol/openid-connect/token`), and the matching
//! userinfo endpoint.

use axum::Json;
use axum::extract::{Form, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine;
use serde::Deserialize;
use serde_json::json;
use settle::account::User;
use settle::merchant::Merchant;
use settle::oauth::{self, TokenOutcome, TokenRefusal, TokenRequest};
use settle_app::auth::ClientAddr;

use crate::api::bearer::ApiCaller;
use crate::api::routes::{GET, Guard, POST, Routes};
use crate::error::ApiError;
use crate::state::AppState;

/// The form fields of a token request.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
pub struct TokenForm {
    grant_type: Option<String>,
    client_id: Option<String>,
    client_secret: Option<String>,
    username: Option<String>,
    password: Option<String>,
}

/// The token and userinfo endpoints, also at the Keycloak paths seed 001's clients use.
pub fn routes() -> Routes {
    let keycloak = "/auth/realms/{realm}/protocol/openid-connect";
    Routes::new()
        .add(Guard::Public, POST, "/oauth/token", post(token))
        .add(Guard::Public, POST, &format!("{keycloak}/token"), post(token))
        .add(Guard::Bearer, GET, "/oauth/userinfo", get(userinfo))
        .add(Guard::Bearer, GET, &format!("{keycloak}/userinfo"), get(userinfo))
}

/// Issues a token for the `password` or `client_credentials` grant.
#[utoipa::path(
    post,
    path = "/oauth/token",
    tag = crate::api::openapi::SETTLE,
    request_body(content = TokenForm, content_type = "application/x-www-form-urlencoded"),
    security((), ("basic" = [])),
    responses(
        (status = 200, description = "The access token", content_type = "application/json"),
        (status = 400, description = "A bad or unsupported grant", content_type = "application/json"),
        (status = 401, description = "Unknown client or wrong credentials", content_type = "application/json"),
    )
)]
pub async fn token(
    State(state): State<AppState>,
    headers: HeaderMap,
    client: Option<axum::Extension<ClientAddr>>,
    form: Result<Form<TokenForm>, axum::extract::rejection::FormRejection>,
) -> Response {
    let Ok(Form(form)) = form else {
        return refusal(&TokenRefusal::InvalidRequest(
            "send the parameters as application/x-www-form-urlencoded".into(),
        ));
    };
    // RFC 6749 §2.3.1: client credentials may come as HTTP Basic instead of form fields.
    let (basic_id, basic_secret) = basic_credentials(&headers).unzip();
    let request = TokenRequest {
        grant_type: form.grant_type,
        client_id: form.client_id.or(basic_id),
        client_secret: form.client_secret.or(basic_secret),
        username: form.username,
        password: form.password,
    };
    let client = client.map(|c| c.0.0).unwrap_or_else(|| "unknown".into());
    let ttl = chrono::Duration::seconds(state.config.token_ttl_seconds);
    match oauth::grant(&state.db, &state.config.throttle_policy(), ttl, request, &client).await {
        Ok(TokenOutcome::Issued(token)) => {
            let body = json!({
                "access_token": token.access_token,
                "token_type": "Bearer",
                "expires_in": token.expires_in,
            });
            no_store((StatusCode::OK, Json(body)).into_response())
        }
        Ok(TokenOutcome::Refused(why)) => refusal(&why),
        Err(e) => ApiError::from(e).into_response(),
    }
}

fn basic_credentials(headers: &HeaderMap) -> Option<(String, String)> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?.strip_prefix("Basic ")?;
    let decoded = base64::engine::general_purpose::STANDARD.decode(value.trim()).ok()?;
    let (id, secret) = std::str::from_utf8(&decoded).ok()?.split_once(':')?;
    let unescape = |s: &str| {
        url::form_urlencoded::parse(format!("x={s}").as_bytes()).next().map(|(_, v)| v.into_owned())
    };
    Some((unescape(id)?, unescape(secret)?))
}

fn refusal(why: &TokenRefusal) -> Response {
    let (status, error, description) = match why {
        TokenRefusal::InvalidRequest(d) => (StatusCode::BAD_REQUEST, "invalid_request", d.clone()),
        TokenRefusal::InvalidClient => (
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "Unknown client or wrong client secret.".into(),
        ),
        TokenRefusal::InvalidGrant => {
            (StatusCode::BAD_REQUEST, "invalid_grant", "Invalid user credentials.".into())
        }
        TokenRefusal::UnsupportedGrantType => (
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            "Use grant_type=password or grant_type=client_credentials.".into(),
        ),
        TokenRefusal::Throttled { retry_after_secs } => (
            StatusCode::TOO_MANY_REQUESTS,
            "invalid_grant",
            format!("Too many failed attempts; try again in {retry_after_secs} seconds."),
        ),
    };
    let mut response =
        (status, Json(json!({ "error": error, "error_description": description }))).into_response();
    if let TokenRefusal::Throttled { retry_after_secs } = why {
        response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(*retry_after_secs));
    }
    if status == StatusCode::UNAUTHORIZED {
        response
            .headers_mut()
            .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static(r#"Basic realm="settle""#));
    }
    no_store(response)
}

fn no_store(mut response: Response) -> Response {
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// Who the bearer token stands for (OpenID Connect userinfo, plus the client it was issued to).
#[utoipa::path(
    get,
    path = "/oauth/userinfo",
    tag = crate::api::openapi::SETTLE,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Who the token stands for", content_type = "application/json"),
        (status = 401, description = "No valid bearer token"),
    )
)]
pub async fn userinfo(
    State(state): State<AppState>,
    ApiCaller { principal: caller, .. }: ApiCaller,
) -> Result<Response, ApiError> {
    let merchant =
        Merchant::find(&state.db, &caller.merchant_id).await?.ok_or(settle::Error::Unauthorized)?;
    let user = match &caller.user_id {
        Some(id) => User::find(&state.db, id).await?,
        None => None,
    };
    let body = json!({
        "sub": user.as_ref().map(|u| u.id.to_string()).unwrap_or_else(|| merchant.client_id.clone()),
        "client_id": merchant.client_id,
        "merchant": merchant.name,
        "grant_type": caller.grant_type.as_str(),
        "email": user.as_ref().map(|u| u.email.to_string()),
        "name": user.as_ref().map(|u| u.display_name.clone()),
        "role": user.as_ref().map(|u| u.role.as_str()),
        "expires_at": caller.expires_at,
    });
    Ok(no_store(Json(body).into_response()))
}
