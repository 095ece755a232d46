//! The bearer-token extractor every REST API handler uses to know its caller.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use settle::api_token::{self, ApiPrincipal};

use crate::error::ApiError;
use crate::state::AppState;

/// The authenticated API caller. Rejects with 401 and `WWW-Authenticate: Bearer`.
#[derive(Clone, Debug)]
pub struct ApiCaller(pub ApiPrincipal);

impl FromRequestParts<AppState> for ApiCaller {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let token = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")))
            .map(str::trim)
            .filter(|t| !t.is_empty());
        let Some(token) = token else {
            return Err(challenge(ApiError::unauthorized(
                "Send an access token: Authorization: Bearer <token>.",
            )));
        };
        match api_token::authenticate(&state.db, token).await {
            Ok(principal) => Ok(ApiCaller(principal)),
            Err(settle::Error::Unauthorized) => Err(challenge(ApiError::unauthorized(
                "The access token is unknown or has expired.",
            ))),
            Err(e) => Err(ApiError::from(e).into_response()),
        }
    }
}

fn challenge(error: ApiError) -> Response {
    let mut response = error.into_response();
    response
        .headers_mut()
        .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static(r#"Bearer realm="settle""#));
    response
}
