//! Card details as a customer types them: number, expiry date and security code.
//!
//! Card numbers and security codes are only ever handed to a gateway to tokenize; Settle keeps
//! the brand, the last four digits and the expiry. So [`CardNumber`] and [`Cvv`] implement no
//! `Serialize`, and their `Debug`/`Display` never show more than the last four digits (or
//! nothing at all, for the security code). The raw digits are reachable only through the
//! explicitly named `expose_digits`, for the connector that sends them to the gateway.

use std::fmt;
use std::str::FromStr;

use chrono::{Datelike, NaiveDate};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::FieldError;

/// The field a value's own error names; callers place it with [`FieldError::at`].
const NUMBER_FIELD: &str = "number";
/// See [`NUMBER_FIELD`].
const EXPIRY_FIELD: &str = "expiry";
/// See [`NUMBER_FIELD`].
const CVV_FIELD: &str = "cvv";
/// See [`NUMBER_FIELD`].
const BRAND_FIELD: &str = "card_type";

/// A card scheme, detected from the card number's issuer identification number (IIN).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CardBrand {
    /// Visa: numbers starting with 4.
    Visa,
    /// Mastercard: 51–55 and the 2-series 2221–2720.
    Mastercard,
    /// American Express: 34 and 37.
    Amex,
    /// Discover: 6011, 622126–622925, 644–649 and 65.
    Discover,
    /// Any other scheme; gateways may still accept it.
    Other,
}

impl CardBrand {
    /// Every brand.
    pub const ALL: [CardBrand; 5] = [
        CardBrand::Visa,
        CardBrand::Mastercard,
        CardBrand::Amex,
        CardBrand::Discover,
        CardBrand::Other,
    ];

    /// The uppercase name clients use for the scheme (`VISA`, `MASTERCARD`).
    pub fn name(self) -> &'static str {
        match self {
            CardBrand::Visa => "VISA",
            CardBrand::Mastercard => "MASTERCARD",
            CardBrand::Amex => "AMEX",
            CardBrand::Discover => "DISCOVER",
            CardBrand::Other => "OTHER",
        }
    }

    /// Detects the brand from a card number's leading digits.
    fn detect(digits: &str) -> CardBrand {
        // A prefix of the given length as a number; None when the number is shorter.
        let prefix = |len: usize| digits.get(..len).and_then(|p| p.parse::<u32>().ok());
        let in_range = |len, low, high| prefix(len).is_some_and(|p| (low..=high).contains(&p));
        if in_range(2, 34, 34) || in_range(2, 37, 37) {
            CardBrand::Amex
        } else if in_range(1, 4, 4) {
            CardBrand::Visa
        } else if in_range(2, 51, 55) || in_range(4, 2221, 2720) {
            CardBrand::Mastercard
        } else if in_range(4, 6011, 6011)
            || in_range(6, 622_126, 622_925)
            || in_range(3, 644, 649)
            || in_range(2, 65, 65)
        {
            CardBrand::Discover
        } else {
            CardBrand::Other
        }
    }
}

impl fmt::Display for CardBrand {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Reads a client's `card_type`, ignoring case and a trailing `DEBIT`/`CREDIT`
/// (seed 003 lists `VISA DEBIT` and `MASTERCARD DEBIT`).
impl FromStr for CardBrand {
    type Err = FieldError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let upper = s.trim().to_ascii_uppercase();
        let scheme = upper
            .strip_suffix(" DEBIT")
            .or_else(|| upper.strip_suffix(" CREDIT"))
            .unwrap_or(&upper)
            .trim();
        match scheme {
            "VISA" => Ok(CardBrand::Visa),
            "MASTERCARD" | "MASTER CARD" | "MC" => Ok(CardBrand::Mastercard),
            "AMEX" | "AMERICAN EXPRESS" => Ok(CardBrand::Amex),
            "DISCOVER" => Ok(CardBrand::Discover),
            "OTHER" => Ok(CardBrand::Other),
            _ => {
                Err(FieldError::new(BRAND_FIELD, format!("{} is not a known card type", s.trim())))
            }
        }
    }
}

impl Serialize for CardBrand {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.name())
    }
}

impl<'de> Deserialize<'de> for CardBrand {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        text.parse().map_err(|e: FieldError| serde::de::Error::custom(e.message))
    }
}

/// A card number that passed the Luhn check. Shows at most its last four digits.
#[derive(Clone, PartialEq, Eq)]
pub struct CardNumber(String);

impl CardNumber {
    /// Parses a card number, ignoring spaces and dashes: 12–19 digits with a valid Luhn check
    /// digit.
    pub fn parse(input: &str) -> Result<CardNumber, FieldError> {
        let digits: String = input.chars().filter(|c| !c.is_whitespace() && *c != '-').collect();
        if digits.is_empty() {
            return Err(FieldError::new(NUMBER_FIELD, "is required"));
        }
        if !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(FieldError::new(NUMBER_FIELD, "must contain only digits"));
        }
        if !(12..=19).contains(&digits.len()) {
            return Err(FieldError::new(NUMBER_FIELD, "must be 12 to 19 digits long"));
        }
        if !luhn_valid(&digits) {
            return Err(FieldError::new(
                NUMBER_FIELD,
                "is not a valid card number; please check it for typing mistakes",
            ));
        }
        Ok(CardNumber(digits))
    }

    /// The card's scheme.
    pub fn brand(&self) -> CardBrand {
        CardBrand::detect(&self.0)
    }

    /// The last four digits, which Settle may store and show.
    pub fn last4(&self) -> &str {
        // At least 12 digits, all ASCII, so the slice is in bounds and on a char boundary.
        &self.0[self.0.len() - 4..]
    }

    /// The masked form shown to people and logs: `**** 0006`.
    pub fn masked(&self) -> String {
        format!("**** {}", self.last4())
    }

    /// All digits, without separators. Only for handing the card to a gateway.
    pub fn expose_digits(&self) -> &str {
        &self.0
    }
}

/// The Luhn (mod 10) check over ASCII digits.
fn luhn_valid(digits: &str) -> bool {
    let sum: u32 = digits
        .bytes()
        .rev()
        .enumerate()
        .map(|(i, b)| {
            let d = u32::from(b - b'0');
            if i % 2 == 1 {
                let doubled = d * 2;
                if doubled > 9 { doubled - 9 } else { doubled }
            } else {
                d
            }
        })
        .sum();
    sum.is_multiple_of(10)
}

impl fmt::Debug for CardNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CardNumber({})", self.masked())
    }
}

impl fmt::Display for CardNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.masked())
    }
}

impl FromStr for CardNumber {
    type Err = FieldError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        CardNumber::parse(s)
    }
}

/// A card's expiry month. The card is valid through the last day of that month.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ExpiryDate {
    // Field order makes the derived ordering chronological.
    year: i32,
    month: u32,
}

impl ExpiryDate {
    /// An expiry from a four-digit year and a month (1–12).
    pub fn new(year: i32, month: u32) -> Result<ExpiryDate, FieldError> {
        if !(1..=12).contains(&month) {
            return Err(FieldError::new(EXPIRY_FIELD, "must have a month from 01 to 12"));
        }
        if !(2000..=2099).contains(&year) {
            return Err(FieldError::new(EXPIRY_FIELD, "must have a year from 2000 to 2099"));
        }
        Ok(ExpiryDate { year, month })
    }

    /// Parses `MMYY` (`1028` is October 2028, as seed 003 sends it) or `MM/YY`.
    pub fn parse(input: &str) -> Result<ExpiryDate, FieldError> {
        let text = input.trim();
        let (mm, yy) = match text.split_once('/') {
            Some((mm, yy)) => (mm.trim(), yy.trim()),
            // `get` rather than slicing: non-ASCII input must be an error, not a panic.
            None => (text.get(..2).unwrap_or(""), text.get(2..).unwrap_or("")),
        };
        let two_digits = |s: &str| s.len() == 2 && s.bytes().all(|b| b.is_ascii_digit());
        if !two_digits(mm) || !two_digits(yy) {
            return Err(FieldError::new(EXPIRY_FIELD, "must be MMYY, e.g. 1028 for October 2028"));
        }
        let invalid = |_| FieldError::new(EXPIRY_FIELD, "must be MMYY, e.g. 1028");
        let month = mm.parse::<u32>().map_err(invalid)?;
        let yy = yy.parse::<i32>().map_err(invalid)?;
        // Two-digit years on cards are this century's.
        ExpiryDate::new(2000 + yy, month)
    }

    /// The month, 1–12.
    pub fn month(self) -> u32 {
        self.month
    }

    /// The four-digit year.
    pub fn year(self) -> i32 {
        self.year
    }

    /// Whether the card can no longer be used on `today`: only once its month is over.
    pub fn is_expired_at(self, today: NaiveDate) -> bool {
        (today.year(), today.month()) > (self.year, self.month)
    }

    /// The `MMYY` form gateways and seed 003 use (`1028`).
    pub fn to_mmyy(self) -> String {
        format!("{:02}{:02}", self.month, self.year % 100)
    }
}

/// `MM/YY`, as printed on the card.
impl fmt::Display for ExpiryDate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:02}/{:02}", self.month, self.year % 100)
    }
}

impl FromStr for ExpiryDate {
    type Err = FieldError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ExpiryDate::parse(s)
    }
}

/// Serialized as `MMYY`, as card forms and acquirers write it.
impl Serialize for ExpiryDate {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.to_mmyy())
    }
}

/// Read from `MMYY` or `MM/YY`.
impl<'de> Deserialize<'de> for ExpiryDate {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        ExpiryDate::parse(&text).map_err(|e| serde::de::Error::custom(e.message))
    }
}

/// A card security code (CVV/CVC/CID, seed 003's `cv2`): 3 or 4 digits. Never shown.
#[derive(Clone, PartialEq, Eq)]
pub struct Cvv(String);

impl Cvv {
    /// Parses 3 or 4 digits.
    pub fn parse(input: &str) -> Result<Cvv, FieldError> {
        let text = input.trim();
        if !(3..=4).contains(&text.len()) || !text.bytes().all(|b| b.is_ascii_digit()) {
            return Err(FieldError::new(CVV_FIELD, "must be 3 or 4 digits"));
        }
        Ok(Cvv(text.to_owned()))
    }

    /// Checks the length the brand uses: 4 digits for American Express, 3 for the others.
    pub fn check_for(&self, brand: CardBrand) -> Result<(), FieldError> {
        match (brand, self.0.len()) {
            (CardBrand::Amex, 4)
            | (CardBrand::Visa | CardBrand::Mastercard | CardBrand::Discover, 3) => Ok(()),
            (CardBrand::Other, _) => Ok(()),
            (CardBrand::Amex, _) => Err(FieldError::new(CVV_FIELD, "must be 4 digits for AMEX")),
            (brand, _) => Err(FieldError::new(CVV_FIELD, format!("must be 3 digits for {brand}"))),
        }
    }

    /// The digits. Only for handing the card to a gateway.
    pub fn expose_digits(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Cvv {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl FromStr for Cvv {
    type Err = FieldError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Cvv::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Appends the Luhn check digit, to make valid numbers for any prefix.
    fn with_check_digit(body: &str) -> String {
        (0..10).map(|d| format!("{body}{d}")).find(|n| luhn_valid(n)).unwrap()
    }

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    #[test]
    fn seed_003_test_cards_parse_with_their_brands() {
        for (number, brand, last4) in [
            ("4929 0000 0000 6", CardBrand::Visa, "0006"),
            ("4462 0000 0000 0003", CardBrand::Visa, "0003"),
            ("5186 1506 6000 0009", CardBrand::Mastercard, "0009"),
            ("5185 6900 6000 0001", CardBrand::Mastercard, "0001"),
        ] {
            let card = CardNumber::parse(number).unwrap();
            assert_eq!(card.brand(), brand, "{number}");
            assert_eq!(card.last4(), last4);
            assert_eq!(card.expose_digits(), number.replace(' ', ""));
        }
    }

    #[test]
    fn seed_003_example_number_fails_luhn() {
        let err = CardNumber::parse("1234567890121234").unwrap_err();
        assert_eq!(err.field, "number");
        assert!(err.message.contains("not a valid card number"));
    }

    #[test]
    fn separators_are_stripped_and_other_characters_rejected() {
        let card = CardNumber::parse("4462-0000-0000-0003").unwrap();
        assert_eq!(card.expose_digits(), "4462000000000003");
        assert!(CardNumber::parse(" 4462 0000\t0000 0003 ").is_ok());
        for bad in ["", "  ", "4462.0000.0000.0003", "4462O00000000003", "abcd"] {
            assert_eq!(CardNumber::parse(bad).unwrap_err().field, "number", "{bad:?}");
        }
    }

    #[test]
    fn length_must_be_12_to_19_digits() {
        let short = with_check_digit("4000000000"); // 11 digits
        assert!(CardNumber::parse(&short).unwrap_err().message.contains("12 to 19"));
        assert!(CardNumber::parse(&with_check_digit("40000000000")).is_ok()); // 12
        assert!(CardNumber::parse(&with_check_digit(&"4".repeat(18))).is_ok()); // 19
        let long = with_check_digit(&"4".repeat(19)); // 20
        assert!(CardNumber::parse(&long).unwrap_err().message.contains("12 to 19"));
    }

    #[test]
    fn bad_luhn_is_rejected() {
        assert!(CardNumber::parse("4462000000000003").is_ok());
        for bad in ["4462000000000004", "4462000000000030", "5186150660000008"] {
            assert_eq!(CardNumber::parse(bad).unwrap_err().field, "number", "{bad}");
        }
    }

    #[test]
    fn brands_follow_iin_ranges() {
        for (body, brand) in [
            ("411111111111111", CardBrand::Visa),
            ("510000000000000", CardBrand::Mastercard),
            ("550000000000000", CardBrand::Mastercard),
            ("222100000000000", CardBrand::Mastercard),
            ("272099999999999", CardBrand::Mastercard),
            ("222000000000000", CardBrand::Other),
            ("272100000000000", CardBrand::Other),
            ("560000000000000", CardBrand::Other),
            ("34000000000000", CardBrand::Amex),
            ("37000000000000", CardBrand::Amex),
            ("35000000000000", CardBrand::Other),
            ("601100000000000", CardBrand::Discover),
            ("622126000000000", CardBrand::Discover),
            ("622925000000000", CardBrand::Discover),
            ("622125000000000", CardBrand::Other),
            ("644000000000000", CardBrand::Discover),
            ("649000000000000", CardBrand::Discover),
            ("650000000000000", CardBrand::Discover),
            ("643000000000000", CardBrand::Other),
            ("300000000000000", CardBrand::Other),
        ] {
            let card = CardNumber::parse(&with_check_digit(body)).unwrap();
            assert_eq!(card.brand(), brand, "{body}");
        }
    }

    #[test]
    fn debug_and_display_show_only_the_last_four() {
        let card = CardNumber::parse("5186 1506 6000 0009").unwrap();
        assert_eq!(format!("{card:?}"), "CardNumber(**** 0009)");
        assert_eq!(card.to_string(), "**** 0009");
        assert!(!format!("{card:?}{card}").contains("5186"));
    }

    #[test]
    fn brand_names_and_card_types() {
        assert_eq!(CardBrand::Visa.to_string(), "VISA");
        assert_eq!("VISA DEBIT".parse::<CardBrand>().unwrap(), CardBrand::Visa);
        assert_eq!("mastercard debit".parse::<CardBrand>().unwrap(), CardBrand::Mastercard);
        assert_eq!("American Express".parse::<CardBrand>().unwrap(), CardBrand::Amex);
        assert_eq!("DISCOVER".parse::<CardBrand>().unwrap(), CardBrand::Discover);
        assert_eq!("JCB".parse::<CardBrand>().unwrap_err().field, "card_type");
        for brand in CardBrand::ALL {
            assert_eq!(brand.name().parse::<CardBrand>().unwrap(), brand);
            let json = serde_json::to_string(&brand).unwrap();
            assert_eq!(serde_json::from_str::<CardBrand>(&json).unwrap(), brand);
        }
    }

    #[test]
    fn expiry_parses_mmyy_and_mm_slash_yy() {
        let e = ExpiryDate::parse("1028").unwrap();
        assert_eq!((e.month(), e.year()), (10, 2028));
        assert_eq!(ExpiryDate::parse("10/28").unwrap(), e);
        assert_eq!(ExpiryDate::parse(" 10 / 28 ").unwrap(), e);
        assert_eq!(ExpiryDate::parse("0125").unwrap(), ExpiryDate::new(2025, 1).unwrap());
        assert_eq!(e.to_mmyy(), "1028");
        assert_eq!(e.to_string(), "10/28");
        assert_eq!(ExpiryDate::new(2030, 3).unwrap().to_mmyy(), "0330");
        assert!(ExpiryDate::parse("1024").unwrap() < e);
    }

    #[test]
    fn expiry_month_00_or_13_and_garbage_are_field_errors() {
        for bad in [
            "1é2", "0028", "1328", "00/28", "13/28", "", "128", "10288", "1/28", "10/2028", "ab12",
            "10-28", "+128",
        ] {
            let err = ExpiryDate::parse(bad).unwrap_err();
            assert_eq!(err.field, "expiry", "{bad:?}");
        }
        assert!(ExpiryDate::parse("1328").unwrap_err().message.contains("month"));
        assert!(ExpiryDate::new(2028, 0).is_err());
        assert!(ExpiryDate::new(1999, 1).is_err());
    }

    #[test]
    fn a_card_is_valid_through_the_last_day_of_its_month() {
        let e = ExpiryDate::parse("1028").unwrap();
        assert!(!e.is_expired_at(date(2028, 10, 1)));
        assert!(!e.is_expired_at(date(2028, 10, 31)));
        assert!(e.is_expired_at(date(2028, 11, 1)));
        assert!(e.is_expired_at(date(2029, 1, 1)));
        assert!(!e.is_expired_at(date(2027, 12, 31)));
        let feb = ExpiryDate::parse("0228").unwrap();
        assert!(!feb.is_expired_at(date(2028, 2, 29)));
        assert!(feb.is_expired_at(date(2028, 3, 1)));
        let dec = ExpiryDate::parse("1224").unwrap();
        assert!(!dec.is_expired_at(date(2024, 12, 31)));
        assert!(dec.is_expired_at(date(2025, 1, 1)));
    }

    #[test]
    fn expiry_serde_uses_mmyy() {
        let e = ExpiryDate::parse("10/28").unwrap();
        assert_eq!(serde_json::to_string(&e).unwrap(), r#""1028""#);
        assert_eq!(serde_json::from_str::<ExpiryDate>(r#""1028""#).unwrap(), e);
        assert!(serde_json::from_str::<ExpiryDate>(r#""1328""#).is_err());
    }

    #[test]
    fn cvv_is_3_or_4_digits_and_never_shown() {
        let cvv = Cvv::parse("123").unwrap();
        assert_eq!(cvv.expose_digits(), "123");
        assert_eq!(format!("{cvv:?}"), "***");
        assert!(Cvv::parse("1234").is_ok());
        for bad in ["", "12", "12345", "12a", "1 3", "-12"] {
            assert_eq!(Cvv::parse(bad).unwrap_err().field, "cvv", "{bad:?}");
        }
    }

    #[test]
    fn cvv_length_matches_the_brand() {
        let three = Cvv::parse("588").unwrap();
        let four = Cvv::parse("5888").unwrap();
        assert!(three.check_for(CardBrand::Visa).is_ok());
        assert!(three.check_for(CardBrand::Mastercard).is_ok());
        assert_eq!(four.check_for(CardBrand::Visa).unwrap_err().field, "cvv");
        assert!(four.check_for(CardBrand::Amex).is_ok());
        assert!(three.check_for(CardBrand::Amex).is_err());
        assert!(four.check_for(CardBrand::Other).is_ok());
    }
}
