//! Email addresses as login names.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::error::FieldError;

/// A syntactically plausible email address, trimmed and lowercased so lookups are exact.
///
/// Deliberately loose (one `@`, a dot in the domain, no spaces): the only real validation of an
/// address is mail reaching it.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Email(String);

impl Email {
    /// Parses and normalises an address.
    pub fn parse(raw: &str) -> Result<Email, FieldError> {
        let email = raw.trim().to_lowercase();
        let invalid = || FieldError::new("email", "must be an email address like name@example.com");
        if email.is_empty() {
            return Err(FieldError::new("email", "is required"));
        }
        // Control characters (NUL in particular, which PostgreSQL refuses in text) are in no
        // address.
        if email.len() > 254 || email.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(invalid());
        }
        let (local, domain) = email.split_once('@').ok_or_else(invalid)?;
        if local.is_empty() || domain.contains('@') || !domain.contains('.') {
            return Err(invalid());
        }
        if domain.starts_with('.') || domain.ends_with('.') {
            return Err(invalid());
        }
        Ok(Email(email))
    }

    /// The normalised address.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Email {
    type Error = FieldError;

    fn try_from(value: String) -> Result<Self, Self::Error> {
        Email::parse(&value)
    }
}

impl From<Email> for String {
    fn from(e: Email) -> String {
        e.0
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_trimmed_and_lowercased() {
        assert_eq!(
            Email::parse("  Thandi@Example.COM ").map(String::from),
            Ok("thandi@example.com".into())
        );
    }

    #[test]
    fn implausible_addresses_are_refused_on_the_email_field() {
        for bad in [
            "",
            "no-at-sign",
            "a@b",
            "a b@c.com",
            "@example.com",
            "a@@example.com",
            "a@example.",
            "a\0@example.com",
            "a@exam\u{1b}ple.com",
        ] {
            let err = Email::parse(bad).expect_err(bad);
            assert_eq!(err.field, "email", "{bad}");
        }
    }
}
