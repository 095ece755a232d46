//! What a logged-in person may do.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::error::FieldError;

/// A user's role; every route and server function names the role it needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Pays what they owe, manages payment methods, buys bundles.
    Customer,
    /// Reviews payments, refunds, retries webhooks.
    Admin,
    /// Configures products, billing schemes, gateways and merchants.
    Operator,
    /// A merchant system's login (seed 001's API user): its password-grant token stands for its
    /// merchant. It never signs in to the pages or the console.
    #[serde(rename = "merchant_api")]
    MerchantApi,
}

impl Role {
    /// Every role, for forms and CLI help.
    pub const ALL: [Role; 4] = [Role::Customer, Role::Admin, Role::Operator, Role::MerchantApi];

    /// The stored and displayed name.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Customer => "customer",
            Role::Admin => "admin",
            Role::Operator => "operator",
            Role::MerchantApi => "merchant_api",
        }
    }

    /// Where this role lands after logging in (a merchant's API login never does: the site's
    /// front page).
    pub fn home_path(self) -> &'static str {
        match self {
            Role::Customer => "/account",
            Role::Admin => "/admin",
            Role::Operator => "/operator",
            Role::MerchantApi => "/",
        }
    }

    /// Whether the role signs in to Settle's pages (a merchant's API login only gets tokens).
    pub fn uses_pages(self) -> bool {
        self != Role::MerchantApi
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = FieldError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Role::ALL.into_iter().find(|r| r.as_str() == s.trim().to_ascii_lowercase()).ok_or_else(
            || FieldError::new("role", "must be customer, admin, operator or merchant_api"),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_round_trip_through_their_names() {
        for role in Role::ALL {
            assert_eq!(role.as_str().parse::<Role>(), Ok(role));
        }
        assert_eq!(" Admin ".parse::<Role>(), Ok(Role::Admin));
        assert!("root".parse::<Role>().is_err());
    }
}
