//! The bearer-token extractor every REST API handler uses to know its caller.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use settle::access::Viewer;
use settle::api_token::{self, ApiPrincipal};
use settle::merchant::MerchantId;

use crate::error::ApiError;
use crate::state::AppState;

/// The authenticated API caller: the token's principal and what the access rule makes of it.
/// Rejects with 401 and `WWW-Authenticate: Bearer`.
#[derive(Clone, Debug)]
pub struct ApiCaller {
    /// Who the token stands for.
    pub principal: ApiPrincipal,
    /// What they may see and pay.
    pub viewer: Viewer,
}

impl ApiCaller {
    /// The merchant whose client holds the token.
    pub fn merchant_id(&self) -> &MerchantId {
        &self.principal.merchant_id
    }

    /// The caller as the idempotency layer scopes keys: the merchant, and the customer for a
    /// customer's token.
    pub fn scope(&self) -> String {
        match self.viewer.customer() {
            Some(customer) => format!("merchant:{}/customer:{customer}", self.merchant_id()),
            None => format!("merchant:{}", self.merchant_id()),
        }
    }

    /// Authenticates a bearer token (`None`: no token was sent).
    pub async fn authenticate(
        state: &AppState,
        token: Option<&str>,
    ) -> Result<ApiCaller, Response> {
        let Some(token) = token else {
            return Err(challenge(ApiError::unauthorized(
                "Send an access token: Authorization: Bearer <token>.",
            )));
        };
        let principal = match api_token::authenticate(&state.db, token).await {
            Ok(principal) => principal,
            Err(settle::Error::Unauthorized) => {
                return Err(challenge(ApiError::unauthorized(
                    "The access token is unknown or has expired.",
                )));
            }
            Err(e) => return Err(ApiError::from(e).into_response()),
        };
        match Viewer::of_principal(&state.db, &principal).await {
            Ok(viewer) => Ok(ApiCaller { principal, viewer }),
            Err(settle::Error::Forbidden) => Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "Staff accounts can't use the API; use the console.",
            )
            .into_response()),
            Err(settle::Error::Unauthorized) => {
                Err(challenge(ApiError::unauthorized("The access token's user no longer exists.")))
            }
            Err(e) => Err(ApiError::from(e).into_response()),
        }
    }
}

/// The bearer token of a request, if it sent one.
pub fn bearer_token(headers: &axum::http::HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")))
        .map(str::trim)
        .filter(|t| !t.is_empty())
}

impl FromRequestParts<AppState> for ApiCaller {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        // The idempotency layer authenticated the caller already (to scope the key).
        if let Some(caller) = parts.extensions.get::<ApiCaller>() {
            return Ok(caller.clone());
        }
        let caller = ApiCaller::authenticate(state, bearer_token(&parts.headers)).await?;
        parts.extensions.insert(caller.clone());
        Ok(caller)
    }
}

/// `error` with the `WWW-Authenticate: Bearer` challenge a 401 carries.
pub(crate) fn challenge(error: ApiError) -> Response {
    let mut response = error.into_response();
    response
        .headers_mut()
        .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static(r#"Bearer realm="settle""#));
    response
}
