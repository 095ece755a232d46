//! The one set of rules for card details and billing addresses, whichever page or API they come
//! from. Each entry point reads its own field names into [`CardEntry`] and [`AddressEntry`],
//! and renames the fields of the errors back (see [`FieldNames`]).
//!
//! Card: a holder of at most 50 characters (what acquirers take), a number that passes the Luhn
//! check, an expiry `MMYY` (or `MM/YY`) not in the past, a security code of the length the
//! number's scheme uses, and, if the client names the card type, one that matches the number.
//! Billing address: a postcode and a house or a street, each line at most 100 characters.

use chrono::NaiveDate;

use crate::address::Address;
use crate::card::{CardBrand, CardNumber, Cvv, ExpiryDate};
use crate::connector::CardDetails;
use crate::error::{Error, FieldError};

/// Longest card holder name accepted (what card acquirers take).
pub const MAX_CARD_HOLDER: usize = 50;
/// Longest address line accepted.
pub const MAX_ADDRESS_LINE: usize = 100;

/// Card details as a client sent them, text only (a dialect reports wrongly typed JSON itself).
#[derive(Clone, Default)]
pub struct CardEntry {
    /// Name on the card.
    pub holder: Option<String>,
    /// The number, with any spacing.
    pub number: Option<String>,
    /// `MMYY` or `MM/YY`.
    pub expiry: Option<String>,
    /// The security code.
    pub cvv: Option<String>,
    /// The scheme the client says it is (`VISA`, `VISA DEBIT`, `MASTERCARD`), optional.
    pub card_type: Option<String>,
}

// Not derived: the number and code must never reach a log through `{:?}`.
impl std::fmt::Debug for CardEntry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CardEntry").field("holder", &self.holder).finish_non_exhaustive()
    }
}

/// A billing address as a client sent it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AddressEntry {
    /// House number or name.
    pub house: Option<String>,
    /// Street.
    pub street: Option<String>,
    /// Town or city.
    pub city: Option<String>,
    /// County or region.
    pub county: Option<String>,
    /// Postcode.
    pub postcode: Option<String>,
}

/// Where a card payment is billed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Billing {
    /// The policy's own address.
    PolicyAddress,
    /// This address.
    Address(Address),
}

/// The field names the rules report errors under (`card.holder`, `billing_address.postcode`,
/// `billing_address`), and the renaming each entry point applies to show its own.
pub struct FieldNames;

impl FieldNames {
    /// Card holder.
    pub const HOLDER: &'static str = "card.holder";
    /// Card number.
    pub const NUMBER: &'static str = "card.number";
    /// Expiry.
    pub const EXPIRY: &'static str = "card.expiry";
    /// Security code.
    pub const CVV: &'static str = "card.cvv";
    /// Card type.
    pub const CARD_TYPE: &'static str = "card.card_type";
    /// The billing address as a whole (and `billing_address.<line>` for its lines).
    pub const BILLING: &'static str = "billing_address";
}

/// Renames the fields of `errors` with `names` (pairs of rule name and the entry point's own):
/// exact names, and `billing_address.<line>` under a renamed `billing_address`.
pub fn rename(errors: Vec<FieldError>, names: &[(&str, &str)]) -> Vec<FieldError> {
    errors
        .into_iter()
        .map(|e| {
            let renamed = names.iter().find_map(|(from, to)| {
                if e.field == *from {
                    Some((*to).to_owned())
                } else {
                    e.field
                        .strip_prefix(from)
                        .filter(|rest| rest.starts_with('.'))
                        .map(|rest| format!("{to}{rest}"))
                }
            });
            match renamed {
                Some(field) => e.at(field),
                None => e,
            }
        })
        .collect()
}

/// [`rename`] applied to a validation error; other errors pass unchanged.
pub fn rename_error(error: Error, names: &[(&str, &str)]) -> Error {
    match error {
        Error::Validation(errors) => Error::Validation(rename(errors, names)),
        other => other,
    }
}

impl CardEntry {
    /// Checks the card as of `today`; every problem is reported (under [`FieldNames`]).
    pub fn check(&self, today: NaiveDate) -> Result<CardDetails, Vec<FieldError>> {
        let mut errors = Vec::new();
        let required = |value: &Option<String>, field: &str, errors: &mut Vec<FieldError>| {
            let value = value.as_deref().map(str::trim).filter(|v| !v.is_empty());
            if value.is_none() {
                errors.push(FieldError::new(field, "is required"));
            }
            value.map(str::to_owned)
        };
        let holder = required(&self.holder, FieldNames::HOLDER, &mut errors);
        if let Some(holder) = &holder
            && holder.chars().count() > MAX_CARD_HOLDER
        {
            errors.push(FieldError::new(
                FieldNames::HOLDER,
                format!("must be at most {MAX_CARD_HOLDER} characters"),
            ));
        }
        let number = required(&self.number, FieldNames::NUMBER, &mut errors).and_then(|n| {
            CardNumber::parse(&n).map_err(|e| errors.push(e.at(FieldNames::NUMBER))).ok()
        });
        let expiry = required(&self.expiry, FieldNames::EXPIRY, &mut errors).and_then(|e| {
            ExpiryDate::parse(&e).map_err(|e| errors.push(e.at(FieldNames::EXPIRY))).ok()
        });
        if let Some(expiry) = expiry
            && expiry.is_expired_at(today)
        {
            errors.push(FieldError::new(FieldNames::EXPIRY, "is in the past"));
        }
        let cvv = required(&self.cvv, FieldNames::CVV, &mut errors)
            .and_then(|c| Cvv::parse(&c).map_err(|e| errors.push(e.at(FieldNames::CVV))).ok());
        if let (Some(cvv), Some(number)) = (&cvv, &number)
            && let Err(e) = cvv.check_for(number.brand())
        {
            errors.push(e.at(FieldNames::CVV));
        }
        // Optional; when sent it must name the number's scheme (`VISA DEBIT` is VISA).
        if let Some(card_type) = self.card_type.as_deref().map(str::trim).filter(|t| !t.is_empty())
        {
            match card_type.parse::<CardBrand>() {
                Ok(brand) => {
                    if let Some(number) = &number
                        && number.brand() != brand
                    {
                        errors.push(FieldError::new(
                            FieldNames::CARD_TYPE,
                            format!(
                                "{card_type} does not match the card number, which is a {} card",
                                number.brand()
                            ),
                        ));
                    }
                }
                Err(e) => errors.push(e.at(FieldNames::CARD_TYPE)),
            }
        }
        match (holder, number, expiry, cvv) {
            (Some(holder), Some(number), Some(expiry), Some(cvv)) if errors.is_empty() => {
                Ok(CardDetails { holder, number, expiry, cvv })
            }
            _ => Err(errors),
        }
    }
}

impl AddressEntry {
    /// Checks a billing address: a postcode, a house or a street, lines of at most 100
    /// characters; blank lines count as missing.
    pub fn check(&self) -> Result<Address, Vec<FieldError>> {
        let mut errors = Vec::new();
        let mut line = |value: &Option<String>, name: &str| {
            let value = value.as_deref().map(str::trim).filter(|v| !v.is_empty());
            if let Some(value) = value
                && value.chars().count() > MAX_ADDRESS_LINE
            {
                errors.push(FieldError::new(
                    format!("{}.{name}", FieldNames::BILLING),
                    format!("must be at most {MAX_ADDRESS_LINE} characters"),
                ));
            }
            value.map(str::to_owned)
        };
        let address = Address {
            house: line(&self.house, "house"),
            street: line(&self.street, "street"),
            city: line(&self.city, "city"),
            county: line(&self.county, "county"),
            postcode: line(&self.postcode, "postcode"),
        };
        if address.house.is_none() && address.street.is_none() {
            errors.push(FieldError::new(
                format!("{}.street", FieldNames::BILLING),
                "a house or a street is required",
            ));
        }
        if address.postcode.is_none() {
            errors
                .push(FieldError::new(format!("{}.postcode", FieldNames::BILLING), "is required"));
        }
        if errors.is_empty() { Ok(address) } else { Err(errors) }
    }
}

impl Billing {
    /// The address to bill: the policy's when chosen (it must have one), else the one given.
    pub fn address(&self, policy_address: Option<&Address>) -> Result<Address, FieldError> {
        match self {
            Billing::Address(address) => Ok(address.clone()),
            Billing::PolicyAddress => policy_address.cloned().ok_or_else(|| {
                FieldError::new(
                    FieldNames::BILLING,
                    "this policy has no address on file to bill: give a billing address",
                )
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, 21).unwrap()
    }

    fn entry(number: &str, expiry: &str, cvv: &str) -> CardEntry {
        CardEntry {
            holder: Some("J SMITH".into()),
            number: Some(number.into()),
            expiry: Some(expiry.into()),
            cvv: Some(cvv.into()),
            card_type: None,
        }
    }

    fn fields(result: Result<impl std::fmt::Debug, Vec<FieldError>>) -> Vec<String> {
        match result {
            Err(errors) => errors.into_iter().map(|e| e.field).collect(),
            Ok(ok) => panic!("expected errors, got {ok:?}"),
        }
    }

    #[test]
    fn the_test_cards_pass_with_their_types() {
        for (number, card_type) in [
            ("4929 0000 0000 6", "VISA"),
            ("4462 0000 0000 0003", "VISA DEBIT"),
            ("5186 1506 6000 0009", "MASTERCARD"),
            ("5185 6900 6000 0001", "MASTERCARD DEBIT"),
        ] {
            let mut card = entry(number, "1028", "123");
            card.card_type = Some(card_type.into());
            let checked = card.check(today()).unwrap();
            assert_eq!(checked.number.expose_digits(), number.replace(' ', ""));
        }
        assert!(entry("4929000000006", "10/28", "123").check(today()).is_ok(), "MM/YY too");
    }

    #[test]
    fn every_problem_is_named() {
        assert_eq!(
            fields(CardEntry::default().check(today())),
            [FieldNames::HOLDER, FieldNames::NUMBER, FieldNames::EXPIRY, FieldNames::CVV]
        );
        // A failing check digit and a card that expired in October 2024.
        assert_eq!(
            fields(entry("1234567890121234", "1024", "588").check(today())),
            [FieldNames::NUMBER, FieldNames::EXPIRY]
        );
        let mut long = entry("4462000000000003", "1028", "123");
        long.holder = Some("X".repeat(MAX_CARD_HOLDER + 1));
        assert_eq!(fields(long.check(today())), [FieldNames::HOLDER]);
        assert_eq!(
            fields(entry("4462000000000003", "1028", "1234").check(today())),
            [FieldNames::CVV]
        );
        let mut wrong_type = entry("5186150660000009", "1028", "123");
        wrong_type.card_type = Some("VISA".into());
        assert_eq!(fields(wrong_type.check(today())), [FieldNames::CARD_TYPE]);
        assert!(entry("4462000000000003", "1126", "123").check(today()).is_ok());
        assert_eq!(
            fields(entry("4462000000000003", "1026", "123").check(today())),
            [FieldNames::EXPIRY]
        );
    }

    #[test]
    fn billing_addresses_need_a_postcode_and_a_house_or_street() {
        let address = AddressEntry {
            house: Some("23".into()),
            street: Some("North Lake str.".into()),
            city: Some(" ".into()),
            county: Some("Norfolk".into()),
            postcode: Some("PE301KM".into()),
        };
        let checked = address.check().unwrap();
        assert_eq!(checked.city, None, "a blank line is missing");
        assert_eq!(
            fields(AddressEntry { city: Some("King's Lynn".into()), ..Default::default() }.check()),
            ["billing_address.street", "billing_address.postcode"]
        );
        let only_house = AddressEntry {
            house: Some("21b".into()),
            postcode: Some("PE301JW".into()),
            ..Default::default()
        };
        assert!(only_house.check().is_ok());
        let long = AddressEntry { street: Some("x".repeat(101)), ..only_house };
        assert_eq!(fields(long.check()), ["billing_address.street"]);
    }

    #[test]
    fn errors_are_renamed_for_each_entry_point() {
        let errors = vec![
            FieldError::new(FieldNames::NUMBER, "x"),
            FieldError::new("billing_address.postcode", "y"),
            FieldError::new("other", "z"),
        ];
        let renamed = rename(
            errors,
            &[(FieldNames::NUMBER, "card_details.card_number"), (FieldNames::BILLING, "billing")],
        );
        let names: Vec<&str> = renamed.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(names, ["card_details.card_number", "billing.postcode", "other"]);
    }

    #[test]
    fn entries_never_show_the_number() {
        let shown = format!("{:?}", entry("4462000000000003", "1028", "123"));
        assert!(!shown.contains("4462000000000003") && !shown.contains("123"), "{shown}");
    }
}
