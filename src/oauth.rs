//! The OAuth2 token endpoint's use case (RFC 6749 §4.3 password and §4.4 client credentials).

use chrono::Duration;

use crate::account::throttle::ThrottlePolicy;
use crate::account::{LoginOutcome, Password, log_in};
use crate::api_token::{self, GrantType, IssuedToken};
use crate::db::Db;
use crate::error::{Error, Result};
use crate::merchant::Merchant;

/// A token request as the endpoint received it (form fields or Basic credentials).
#[derive(Debug, Default)]
pub struct TokenRequest {
    /// `grant_type`.
    pub grant_type: Option<String>,
    /// `client_id`.
    pub client_id: Option<String>,
    /// `client_secret` (absent for public clients using the password grant).
    pub client_secret: Option<String>,
    /// `username` (password grant).
    pub username: Option<String>,
    /// `password` (password grant).
    pub password: Option<String>,
}

/// Why a token was refused, named as RFC 6749 §5.2 names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenRefusal {
    /// A required parameter is missing.
    InvalidRequest(String),
    /// The client is unknown or its secret is wrong.
    InvalidClient,
    /// The user's credentials are wrong.
    InvalidGrant,
    /// The grant type is not one Settle issues.
    UnsupportedGrantType,
    /// Too many failed attempts.
    Throttled {
        /// Seconds until another attempt may be made.
        retry_after_secs: u64,
    },
}

/// What the token endpoint answers.
#[derive(Debug)]
pub enum TokenOutcome {
    /// A new token.
    Issued(IssuedToken),
    /// An OAuth2 error.
    Refused(TokenRefusal),
}

/// Issues a token for a password or client-credentials grant.
pub async fn grant(
    db: &Db,
    throttle: &ThrottlePolicy,
    ttl: Duration,
    request: TokenRequest,
    client_ip: &str,
) -> Result<TokenOutcome> {
    use TokenOutcome::Refused;
    let Some(grant_type) = request.grant_type.as_deref().filter(|g| !g.is_empty()) else {
        return Ok(Refused(TokenRefusal::InvalidRequest("grant_type is required".into())));
    };
    let Some(client_id) = request.client_id.as_deref().filter(|c| !c.is_empty()) else {
        return Ok(Refused(TokenRefusal::InvalidRequest("client_id is required".into())));
    };
    match grant_type {
        "client_credentials" => {
            let Some(secret) = request.client_secret.as_deref() else {
                return Ok(Refused(TokenRefusal::InvalidClient));
            };
            let merchant = match Merchant::authenticate(db, client_id, secret).await {
                Ok(m) => m,
                Err(Error::Unauthorized) => return Ok(Refused(TokenRefusal::InvalidClient)),
                Err(e) => return Err(e),
            };
            let token =
                api_token::issue(db, &merchant.id, None, GrantType::ClientCredentials, ttl).await?;
            Ok(TokenOutcome::Issued(token))
        }
        "password" => {
            // Public clients (like seed 001's `invoice-system-client`) may send no secret; a
            // confidential client must send its own, and any secret sent must be right.
            let merchant = match request.client_secret.as_deref() {
                Some(secret) => match Merchant::authenticate(db, client_id, secret).await {
                    Ok(m) => Some(m),
                    Err(Error::Unauthorized) => None,
                    Err(e) => return Err(e),
                },
                None => Merchant::by_client_id(db, client_id).await?.filter(|m| m.public_client),
            };
            let Some(merchant) = merchant else {
                return Ok(Refused(TokenRefusal::InvalidClient));
            };
            let (Some(username), Some(password)) = (request.username, request.password) else {
                return Ok(Refused(TokenRefusal::InvalidRequest(
                    "username and password are required".into(),
                )));
            };
            let outcome =
                log_in(db, throttle, &username, Password::for_login(password), client_ip).await?;
            match outcome {
                // Customers act through a merchant's client, and the merchant's own API login
                // through its own client only; staff use the console.
                LoginOutcome::LoggedIn(user) if !may_use_client(&user, &merchant) => {
                    Ok(Refused(TokenRefusal::InvalidGrant))
                }
                LoginOutcome::LoggedIn(user) => {
                    let token = api_token::issue(
                        db,
                        &merchant.id,
                        Some(&user.id),
                        GrantType::Password,
                        ttl,
                    )
                    .await?;
                    Ok(TokenOutcome::Issued(token))
                }
                LoginOutcome::WrongCredentials | LoginOutcome::Disabled => {
                    Ok(Refused(TokenRefusal::InvalidGrant))
                }
                LoginOutcome::Throttled { retry_after_secs } => {
                    Ok(Refused(TokenRefusal::Throttled { retry_after_secs }))
                }
            }
        }
        _ => Ok(Refused(TokenRefusal::UnsupportedGrantType)),
    }
}

/// Whether `user` may get a token through `merchant`'s client: a customer, or that merchant's
/// own API login.
fn may_use_client(user: &crate::account::User, merchant: &Merchant) -> bool {
    use crate::account::Role;
    match user.role {
        Role::Customer => true,
        Role::MerchantApi => user.merchant_id.as_ref() == Some(&merchant.id),
        Role::Admin | Role::Operator => false,
    }
}
