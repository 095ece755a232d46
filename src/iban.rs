//! International Bank Account Numbers, for direct-debit mandates.
//!
//! Validation (structure, country-specific BBAN format, mod-97 check digits) is done by the
//! `iban_validate` crate. Input is accepted the way people type it, with spaces and in lower
//! case, and kept in the electronic format (`DE44500105175407324931`).
//!
//! An IBAN identifies someone's bank account, so it is shown masked wherever it might end up
//! in a log or on screen: the country code, `**` for the check digits, `****` for everything
//! up to the last four characters, and those four, always in that fixed shape
//! (`DE** **** 2931`) so the length of the account number does not show either.

use std::fmt;
use std::str::FromStr;

use iban::{IbanLike, ParseBaseIbanError, ParseIbanError};

use crate::error::FieldError;

/// The field name clients use for IBANs.
const FIELD: &str = "iban";

/// A validated IBAN in electronic format. `Debug` and `Display` show only the masked form.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Iban(iban::Iban);

impl Iban {
    /// Parses an IBAN, ignoring whitespace and case.
    pub fn parse(input: &str) -> Result<Iban, FieldError> {
        let electronic: String =
            input.chars().filter(|c| !c.is_whitespace()).map(|c| c.to_ascii_uppercase()).collect();
        if electronic.is_empty() {
            return Err(FieldError::new(FIELD, "is required"));
        }
        electronic.parse::<iban::Iban>().map(Iban).map_err(|e| {
            let message = match e {
                ParseIbanError::InvalidBaseIban { source: ParseBaseIbanError::InvalidChecksum } => {
                    "has wrong check digits; please check it for typing mistakes".to_owned()
                }
                ParseIbanError::InvalidBaseIban { source: ParseBaseIbanError::InvalidFormat } => {
                    "must be an IBAN such as DE44 5001 0517 5407 3249 31".to_owned()
                }
                ParseIbanError::UnknownCountry(base) => {
                    format!("{} is not a country that uses IBANs", base.country_code())
                }
                ParseIbanError::InvalidBban(base) => {
                    format!("is not a valid account number for country {}", base.country_code())
                }
            };
            FieldError::new(FIELD, message)
        })
    }

    /// The full IBAN in electronic format (no spaces, uppercase), for the bank and storage.
    pub fn electronic(&self) -> &str {
        self.0.electronic_str()
    }

    /// The two-letter country code.
    pub fn country_code(&self) -> &str {
        self.0.country_code()
    }

    /// The last four characters of the account number.
    pub fn last4(&self) -> &str {
        let s = self.electronic();
        // Every IBAN is at least 15 characters, so this slice is within bounds.
        &s[s.len() - 4..]
    }

    /// The masked form, e.g. `DE** **** 2931`: country, hidden digits, last four.
    pub fn masked(&self) -> String {
        format!("{}** **** {}", self.country_code(), self.last4())
    }
}

impl fmt::Debug for Iban {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Iban({})", self.masked())
    }
}

impl fmt::Display for Iban {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.masked())
    }
}

impl FromStr for Iban {
    type Err = FieldError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Iban::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DE: &str = "DE44500105175407324931";

    #[test]
    fn parses_spaced_and_lowercase_input_to_electronic_format() {
        for input in [
            DE,
            "DE44 5001 0517 5407 3249 31",
            "de44 5001 0517 5407 3249 31",
            " de44500105175407324931 ",
            "DE44\t5001 05175407 324931",
        ] {
            let iban = Iban::parse(input).unwrap();
            assert_eq!(iban.electronic(), DE, "{input:?}");
        }
        let es = Iban::parse("ES91 2100 0418 4502 0005 1332").unwrap();
        assert_eq!(es.electronic(), "ES9121000418450200051332");
        assert_eq!(es.country_code(), "ES");
        assert_eq!("gb29 nwbk 6016 1331 9268 19".parse::<Iban>().unwrap().country_code(), "GB");
    }

    #[test]
    fn bad_checksum_is_a_field_error() {
        let err = Iban::parse("DE45 5001 0517 5407 3249 31").unwrap_err();
        assert_eq!(err.field, "iban");
        assert!(err.message.contains("check digits"), "{}", err.message);
        let err = Iban::parse("DE44 5001 0517 5407 3249 32").unwrap_err();
        assert!(err.message.contains("check digits"), "{}", err.message);
    }

    #[test]
    fn malformed_input_is_a_field_error() {
        for bad in [
            "",
            "   ",
            "DE",
            "1234",
            "DE44-5001-0517-5407-3249-31",
            "DE44 5001 0517 5407 3249 31 00",
        ] {
            assert_eq!(Iban::parse(bad).unwrap_err().field, "iban", "{bad:?}");
        }
        // A valid mod-97 checksum but an unknown country.
        let err = Iban::parse("XX82 WEST 1234 5698 7654 32").unwrap_err();
        assert_eq!(err.field, "iban");
    }

    #[test]
    fn masked_shows_country_and_last_four_only() {
        let iban = Iban::parse(DE).unwrap();
        assert_eq!(iban.last4(), "4931");
        assert_eq!(iban.masked(), "DE** **** 4931");
        assert_eq!(iban.to_string(), "DE** **** 4931");
        let debug = format!("{iban:?}");
        assert_eq!(debug, "Iban(DE** **** 4931)");
        assert!(!debug.contains("5001"));
        let short = Iban::parse("NO93 8601 1117 947").unwrap();
        assert_eq!(short.masked(), "NO** **** 7947");
    }
}
