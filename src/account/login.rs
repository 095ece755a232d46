//! The login use case: throttle, verify, record.

use crate::account::password::dummy_hash;
use crate::account::throttle::{self, ThrottlePolicy};
use crate::account::{Email, Password, User};
use crate::db::Db;
use crate::error::{Error, Result};

/// What a login attempt came to.
#[derive(Debug)]
pub enum LoginOutcome {
    /// The password matched.
    LoggedIn(User),
    /// Unknown email or wrong password (deliberately indistinguishable).
    WrongCredentials,
    /// The password matched, but an operator disabled the account.
    Disabled,
    /// Too many recent failures for this account or address.
    Throttled {
        /// Seconds until the next attempt may be made.
        retry_after_secs: u64,
    },
}

/// What a person whose account is disabled is told when they log in.
pub const DISABLED_MESSAGE: &str =
    "This account is disabled. Ask an operator of Settle if you need it again.";

/// Checks an email and password from `client_ip`, enforcing the throttle policy.
pub async fn log_in(
    db: &Db,
    policy: &ThrottlePolicy,
    email: &str,
    password: Password,
    client_ip: &str,
) -> Result<LoginOutcome> {
    let email = match Email::parse(email) {
        Ok(email) => email,
        Err(_) => return Ok(LoginOutcome::WrongCredentials),
    };
    if let Some(retry_after_secs) = throttle::retry_after(db, policy, &email, client_ip).await? {
        return Ok(LoginOutcome::Throttled { retry_after_secs });
    }
    let found = User::find_with_hash(db, &email).await?;
    let (user, hash) = match found {
        Some((user, hash)) => (Some(user), hash),
        None => (None, dummy_hash().await?),
    };
    let matches = password.verify(hash).await?;
    let user = user.filter(|_| matches);
    throttle::record_attempt(db, email.as_str(), client_ip, user.is_some()).await?;
    // Only someone who knows the password learns that the account is disabled.
    Ok(match user {
        Some(user) if user.disabled_at.is_some() => LoginOutcome::Disabled,
        Some(user) => LoginOutcome::LoggedIn(user),
        None => LoginOutcome::WrongCredentials,
    })
}

impl From<LoginOutcome> for Result<User> {
    fn from(outcome: LoginOutcome) -> Self {
        match outcome {
            LoginOutcome::LoggedIn(user) => Ok(user),
            LoginOutcome::WrongCredentials | LoginOutcome::Disabled => Err(Error::Unauthorized),
            LoginOutcome::Throttled { retry_after_secs } => {
                Err(Error::Throttled { retry_after_secs })
            }
        }
    }
}
