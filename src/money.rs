//! Money: integer minor units plus an ISO 4217 currency.
//!
//! Amounts arrive as decimal text or JSON numbers (`5100.00`, `378.90`) and are parsed exactly:
//! nothing here goes through `f64`. A value is stored as a count of the currency's minor unit
//! (cents for ZAR, fils for KWD, whole yen for JPY), so sums and comparisons are integer
//! arithmetic. JSON numbers keep their exact text because the workspace enables serde_json's
//! `arbitrary_precision` feature; [`decimal_number`] reads and writes them as [`Decimal`].

use std::fmt;
use std::str::FromStr;

use rust_decimal::Decimal;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::FieldError;

/// The field name clients use for amounts; callers rename it with [`FieldError::at`].
const AMOUNT_FIELD: &str = "amount";
/// The field name clients use for currencies.
const CURRENCY_FIELD: &str = "currency";

/// One row of the built-in currency table.
#[derive(Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
struct CurrencyInfo {
    code: &'static str,
    exponent: u32,
}

/// An ISO 4217 currency that Settle knows the minor unit of.
///
/// Only codes in the built-in table can be constructed, so every `Currency` has a known
/// exponent and amounts in it can be converted exactly.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Currency(&'static CurrencyInfo);

macro_rules! currencies {
    ($($code:ident => $exponent:literal, $name:literal;)*) => {
        impl Currency {
            $(
                #[doc = concat!($name, " (", stringify!($code), ", ", stringify!($exponent), " decimal places).")]
                pub const $code: Currency =
                    Currency(&CurrencyInfo { code: stringify!($code), exponent: $exponent });
            )*
        }

        /// Every supported currency, in the order of the table above.
        const ALL_CURRENCIES: &[Currency] = &[$(Currency::$code),*];
    };
}

currencies! {
    ZAR => 2, "South African rand";
    AED => 2, "UAE dirham";
    EUR => 2, "Euro";
    GBP => 2, "Pound sterling";
    USD => 2, "US dollar";
    XOF => 0, "West African CFA franc";
    XAF => 0, "Central African CFA franc";
    JPY => 0, "Japanese yen";
    KRW => 0, "South Korean won";
    UGX => 0, "Ugandan shilling";
    RWF => 0, "Rwandan franc";
    KWD => 3, "Kuwaiti dinar";
    BHD => 3, "Bahraini dinar";
    OMR => 3, "Omani rial";
    JOD => 3, "Jordanian dinar";
    TND => 3, "Tunisian dinar";
    SAR => 2, "Saudi riyal";
    QAR => 2, "Qatari riyal";
    EGP => 2, "Egyptian pound";
    MAD => 2, "Moroccan dirham";
    KES => 2, "Kenyan shilling";
    TZS => 2, "Tanzanian shilling";
    NGN => 2, "Nigerian naira";
    GHS => 2, "Ghanaian cedi";
    BWP => 2, "Botswana pula";
    NAD => 2, "Namibian dollar";
    ZMW => 2, "Zambian kwacha";
    MUR => 2, "Mauritian rupee";
    INR => 2, "Indian rupee";
    CHF => 2, "Swiss franc";
    SEK => 2, "Swedish krona";
    NOK => 2, "Norwegian krone";
    DKK => 2, "Danish krone";
    PLN => 2, "Polish zloty";
    AUD => 2, "Australian dollar";
    NZD => 2, "New Zealand dollar";
    CAD => 2, "Canadian dollar";
    CNY => 2, "Chinese yuan";
}

impl Currency {
    /// Parses a three-letter code, in any case, against the built-in table.
    pub fn parse(input: &str) -> Result<Currency, FieldError> {
        let code = input.trim();
        if code.len() != 3 || !code.bytes().all(|b| b.is_ascii_alphabetic()) {
            return Err(FieldError::new(
                CURRENCY_FIELD,
                "must be a three-letter ISO 4217 currency code such as ZAR",
            ));
        }
        ALL_CURRENCIES.iter().copied().find(|c| c.0.code.eq_ignore_ascii_case(code)).ok_or_else(
            || {
                FieldError::new(
                    CURRENCY_FIELD,
                    format!("{} is not a supported currency", code.to_ascii_uppercase()),
                )
            },
        )
    }

    /// The uppercase ISO 4217 code, e.g. `ZAR`.
    pub fn code(self) -> &'static str {
        self.0.code
    }

    /// How many decimal places the minor unit has (2 for ZAR, 0 for JPY, 3 for KWD).
    pub fn exponent(self) -> u32 {
        self.0.exponent
    }

    /// Every currency Settle supports.
    pub fn all() -> &'static [Currency] {
        ALL_CURRENCIES
    }
}

impl fmt::Debug for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Currency({})", self.0.code)
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0.code)
    }
}

impl FromStr for Currency {
    type Err = FieldError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Currency::parse(s)
    }
}

impl Serialize for Currency {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.0.code)
    }
}

impl<'de> Deserialize<'de> for Currency {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let code = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        Currency::parse(&code).map_err(|e| serde::de::Error::custom(e.message))
    }
}

/// An amount of money: a signed count of the currency's minor unit.
///
/// Constructors that take client input reject negative amounts; use the `_signed` variants for
/// refunds and adjustments, where a sign is meaningful.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Money {
    minor: i64,
    currency: Currency,
}

impl Money {
    /// An amount given in minor units (`37890` ZAR cents is 378.90 ZAR).
    pub fn from_minor(minor: i64, currency: Currency) -> Money {
        Money { minor, currency }
    }

    /// Zero in `currency`.
    pub fn zero(currency: Currency) -> Money {
        Money { minor: 0, currency }
    }

    /// Parses a non-negative decimal such as `5100`, `5100.00` or `378.9`, exactly.
    ///
    /// More fraction digits than the currency has are rejected unless they are zeros
    /// (`378.9000` is fine for ZAR, `378.905` is not): rounding client input would silently
    /// change what they asked to pay.
    pub fn parse_decimal(input: &str, currency: Currency) -> Result<Money, FieldError> {
        parse_amount(input, currency, false)
    }

    /// Like [`Money::parse_decimal`] but also accepts a leading `-`.
    pub fn parse_signed(input: &str, currency: Currency) -> Result<Money, FieldError> {
        parse_amount(input, currency, true)
    }

    /// Converts a non-negative decimal exactly, with the same rules as [`Money::parse_decimal`].
    pub fn from_decimal(value: Decimal, currency: Currency) -> Result<Money, FieldError> {
        if value.is_sign_negative() && !value.is_zero() {
            return Err(FieldError::new(AMOUNT_FIELD, "must not be negative"));
        }
        Money::from_decimal_signed(value, currency)
    }

    /// Converts a decimal of either sign exactly.
    pub fn from_decimal_signed(value: Decimal, currency: Currency) -> Result<Money, FieldError> {
        let value = value.normalize();
        let exponent = currency.exponent();
        if value.scale() > exponent {
            return Err(too_many_places(currency));
        }
        // Both factors are below 2^96 and 10^3, so the product cannot overflow an i128.
        let minor = value.mantissa() * 10_i128.pow(exponent - value.scale());
        let minor = i64::try_from(minor).map_err(|_| too_large())?;
        Ok(Money { minor, currency })
    }

    /// The amount in minor units.
    pub fn minor(self) -> i64 {
        self.minor
    }

    /// The currency.
    pub fn currency(self) -> Currency {
        self.currency
    }

    /// The amount as a decimal with exactly the currency's number of decimal places
    /// (`378.90`, never `378.9`), ready for [`decimal_number`].
    pub fn to_decimal(self) -> Decimal {
        // The exponent is at most 3, far below Decimal's limit of 28, so `new` cannot panic.
        Decimal::new(self.minor, self.currency.exponent())
    }

    /// Whether the amount is zero.
    pub fn is_zero(self) -> bool {
        self.minor == 0
    }

    /// Whether the amount is below zero.
    pub fn is_negative(self) -> bool {
        self.minor < 0
    }

    /// `self + other`; different currencies or an overflow are errors.
    pub fn checked_add(self, other: Money) -> Result<Money, FieldError> {
        self.same_currency(other)?;
        let minor = self.minor.checked_add(other.minor).ok_or_else(too_large)?;
        Ok(Money { minor, currency: self.currency })
    }

    /// `self - other`; different currencies or an overflow are errors.
    pub fn checked_sub(self, other: Money) -> Result<Money, FieldError> {
        self.same_currency(other)?;
        let minor = self.minor.checked_sub(other.minor).ok_or_else(too_large)?;
        Ok(Money { minor, currency: self.currency })
    }

    /// `self × quantity` (a line's unit price times its quantity); an overflow is an error.
    pub fn checked_mul(self, quantity: i64) -> Result<Money, FieldError> {
        let minor = self.minor.checked_mul(quantity).ok_or_else(too_large)?;
        Ok(Money { minor, currency: self.currency })
    }

    /// The sum of `amounts`, zero in `currency` when there are none.
    pub fn checked_sum(
        amounts: impl IntoIterator<Item = Money>,
        currency: Currency,
    ) -> Result<Money, FieldError> {
        amounts.into_iter().try_fold(Money::zero(currency), Money::checked_add)
    }

    fn same_currency(self, other: Money) -> Result<(), FieldError> {
        if self.currency == other.currency {
            Ok(())
        } else {
            Err(FieldError::new(
                CURRENCY_FIELD,
                format!(
                    "cannot combine amounts in {} and {}",
                    self.currency.code(),
                    other.currency.code()
                ),
            ))
        }
    }
}

impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let exponent = self.currency.exponent();
        let sign = if self.minor < 0 { "-" } else { "" };
        // unsigned_abs keeps i64::MIN printable.
        let abs = self.minor.unsigned_abs();
        let unit = 10_u64.pow(exponent);
        let (major, fraction) = (abs / unit, abs % unit);
        if exponent == 0 {
            write!(f, "{sign}{major} {}", self.currency.code())
        } else {
            let width = exponent as usize;
            write!(f, "{sign}{major}.{fraction:0width$} {}", self.currency.code())
        }
    }
}

/// An amount as customers read it: the currency code first, thousands separated, and exactly
/// the currency's minor digits (`AED 5,100.00`, `JPY 5,100`, `KWD 1.234`, `-GBP 5.00`). Made by
/// [`Money::display`]; [`MoneyDisplay::number`] leaves the code out, for a column whose heading
/// names the currency (`5,100.00`).
///
/// Every amount a customer sees (pages, tax invoices, receipts) is shown this way. The
/// machine-readable form, `Money`'s own `Display` (`5100.00 AED`), is for logs and messages to
/// operators. Digits are grouped in threes for every currency.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MoneyDisplay {
    money: Money,
    code: bool,
}

impl Money {
    /// The amount as customers read it, e.g. `AED 5,100.00` (see [`MoneyDisplay`]).
    pub fn display(self) -> MoneyDisplay {
        MoneyDisplay { money: self, code: true }
    }
}

impl MoneyDisplay {
    /// The same amount without its currency code (`5,100.00`).
    pub fn number(self) -> MoneyDisplay {
        MoneyDisplay { code: false, ..self }
    }
}

impl fmt::Display for MoneyDisplay {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Money { minor, currency } = self.money;
        let exponent = currency.exponent();
        // unsigned_abs keeps i64::MIN printable.
        let abs = minor.unsigned_abs();
        let unit = 10_u64.pow(exponent);
        let (major, fraction) = (abs / unit, abs % unit);
        let digits = major.to_string();
        let mut grouped = String::with_capacity(digits.len() + digits.len() / 3);
        for (i, digit) in digits.chars().enumerate() {
            if i > 0 && (digits.len() - i).is_multiple_of(3) {
                grouped.push(',');
            }
            grouped.push(digit);
        }
        if minor < 0 {
            f.write_str("-")?;
        }
        if self.code {
            write!(f, "{} ", currency.code())?;
        }
        f.write_str(&grouped)?;
        if exponent > 0 {
            let width = exponent as usize;
            write!(f, ".{fraction:0width$}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Money({self})")
    }
}

fn too_many_places(currency: Currency) -> FieldError {
    FieldError::new(
        AMOUNT_FIELD,
        format!(
            "has more than {} decimal places, the most {} allows",
            currency.exponent(),
            currency.code()
        ),
    )
}

fn too_large() -> FieldError {
    FieldError::new(AMOUNT_FIELD, "is too large")
}

fn not_a_number() -> FieldError {
    FieldError::new(AMOUNT_FIELD, "must be a decimal number such as 378.90")
}

/// The exact parser behind [`Money::parse_decimal`] and [`Money::parse_signed`].
fn parse_amount(
    input: &str,
    currency: Currency,
    allow_negative: bool,
) -> Result<Money, FieldError> {
    let text = input.trim();
    let (negative, unsigned) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    if negative && !allow_negative {
        return Err(FieldError::new(AMOUNT_FIELD, "must not be negative"));
    }
    let (whole, fraction) = match unsigned.split_once('.') {
        Some((whole, fraction)) => (whole, fraction),
        None => (unsigned, ""),
    };
    let all_digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    // A bare "." or "5." is more likely a typo than an amount; so are exponents, signs and NaN.
    if whole.is_empty()
        || !all_digits(whole)
        || !all_digits(fraction)
        || (unsigned.contains('.') && fraction.is_empty())
    {
        return Err(not_a_number());
    }
    let exponent = currency.exponent() as usize;
    let (kept, dropped) = fraction.split_at(fraction.len().min(exponent));
    if dropped.bytes().any(|b| b != b'0') {
        return Err(too_many_places(currency));
    }
    let mut minor: i128 = 0;
    // Padding the kept fraction digits with zeros up to the exponent gives the minor units.
    let padded = kept.bytes().chain(std::iter::repeat_n(b'0', exponent - kept.len()));
    for digit in whole.bytes().chain(padded) {
        minor = minor
            .checked_mul(10)
            .and_then(|m| m.checked_add(i128::from(digit - b'0')))
            .ok_or_else(too_large)?;
    }
    if negative {
        minor = -minor;
    }
    let minor = i64::try_from(minor).map_err(|_| too_large())?;
    Ok(Money { minor, currency })
}

/// Serde helpers that read and write a [`Decimal`] as a JSON number token, exactly.
///
/// Use with `#[serde(with = "settle::money::decimal_number")]`. Serializing writes the
/// decimal's own scale, so a value from [`Money::to_decimal`] is written as `378.90`.
/// Deserializing accepts a JSON number (kept exact by serde_json's `arbitrary_precision`) or a
/// string holding one. Serializing relies on serde_json's number token and so is meant for JSON.
pub mod decimal_number {
    use std::fmt;
    use std::str::FromStr;

    use rust_decimal::Decimal;
    use serde::de::{self, Visitor};
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    /// Writes `value` as a JSON number with its scale, e.g. `378.90`.
    pub fn serialize<S: Serializer>(value: &Decimal, serializer: S) -> Result<S::Ok, S::Error> {
        serde_json::Number::from_str(&value.to_string())
            .map_err(serde::ser::Error::custom)?
            .serialize(serializer)
    }

    /// Reads a JSON number or numeric string exactly.
    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Decimal, D::Error> {
        deserializer.deserialize_any(DecimalVisitor)
    }

    /// The same for `Option<Decimal>`, where `null` is `None`.
    pub mod option {
        use rust_decimal::Decimal;
        use serde::{Deserialize, Deserializer, Serializer};

        /// Writes `Some(value)` as a JSON number and `None` as `null`.
        pub fn serialize<S: Serializer>(
            value: &Option<Decimal>,
            serializer: S,
        ) -> Result<S::Ok, S::Error> {
            match value {
                Some(value) => super::serialize(value, serializer),
                None => serializer.serialize_none(),
            }
        }

        /// Reads `null` as `None` and a number or numeric string exactly.
        pub fn deserialize<'de, D: Deserializer<'de>>(
            deserializer: D,
        ) -> Result<Option<Decimal>, D::Error> {
            #[derive(Deserialize)]
            struct Wrapped(#[serde(with = "super")] Decimal);
            Ok(Option::<Wrapped>::deserialize(deserializer)?.map(|Wrapped(d)| d))
        }
    }

    /// Parses the text of a JSON number (or a string holding one) without rounding.
    pub(crate) fn parse_exact(text: &str) -> Result<Decimal, String> {
        let text = text.trim();
        // rust_decimal also accepts `_` separators; a client amount with them is a mistake.
        let allowed = |c: char| c.is_ascii_digit() || matches!(c, '-' | '+' | '.' | 'e' | 'E');
        if text.is_empty() || !text.chars().all(allowed) {
            return Err(format!("{text:?} is not a decimal number"));
        }
        let parsed = if text.contains(['e', 'E']) {
            Decimal::from_scientific(text)
        } else {
            Decimal::from_str_exact(text)
        };
        parsed.map_err(|e| format!("{text:?} is not a representable decimal number: {e}"))
    }

    struct DecimalVisitor;

    impl<'de> Visitor<'de> for DecimalVisitor {
        type Value = Decimal;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a decimal number such as 378.90")
        }

        fn visit_i64<E: de::Error>(self, v: i64) -> Result<Decimal, E> {
            Ok(Decimal::from(v))
        }

        fn visit_u64<E: de::Error>(self, v: u64) -> Result<Decimal, E> {
            Ok(Decimal::from(v))
        }

        fn visit_i128<E: de::Error>(self, v: i128) -> Result<Decimal, E> {
            Decimal::try_from_i128_with_scale(v, 0).map_err(E::custom)
        }

        fn visit_u128<E: de::Error>(self, v: u128) -> Result<Decimal, E> {
            let v = i128::try_from(v).map_err(E::custom)?;
            self.visit_i128(v)
        }

        // With `arbitrary_precision`, serde_json hands over an f64 only when its shortest
        // representation is exactly the number's text, so formatting it back loses nothing.
        fn visit_f64<E: de::Error>(self, v: f64) -> Result<Decimal, E> {
            let number = serde_json::Number::from_f64(v)
                .ok_or_else(|| E::custom("NaN and infinity are not amounts"))?;
            parse_exact(&number.to_string()).map_err(E::custom)
        }

        fn visit_str<E: de::Error>(self, v: &str) -> Result<Decimal, E> {
            parse_exact(v).map_err(E::custom)
        }

        // serde_json's `arbitrary_precision` numbers arrive as a one-entry map; its own
        // `Number` knows how to read that map, and keeps the text.
        fn visit_map<A: de::MapAccess<'de>>(self, map: A) -> Result<Decimal, A::Error> {
            let number =
                serde_json::Number::deserialize(de::value::MapAccessDeserializer::new(map))?;
            parse_exact(&number.to_string()).map_err(de::Error::custom)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::{Deserialize, Serialize};

    fn zar(s: &str) -> Result<Money, FieldError> {
        Money::parse_decimal(s, Currency::ZAR)
    }

    #[test]
    fn currency_parses_case_insensitively_and_stores_uppercase() {
        let c = Currency::parse("zar").unwrap();
        assert_eq!(c, Currency::ZAR);
        assert_eq!(c.code(), "ZAR");
        assert_eq!(Currency::parse(" Kwd ").unwrap().exponent(), 3);
        assert_eq!("usd".parse::<Currency>().unwrap(), Currency::USD);
    }

    #[test]
    fn currency_exponents_follow_iso_4217() {
        for (code, exponent) in [
            ("ZAR", 2),
            ("AED", 2),
            ("EUR", 2),
            ("GBP", 2),
            ("USD", 2),
            ("XOF", 0),
            ("JPY", 0),
            ("KWD", 3),
            ("BHD", 3),
            ("SAR", 2),
            ("KES", 2),
            ("NGN", 2),
            ("GHS", 2),
        ] {
            assert_eq!(Currency::parse(code).unwrap().exponent(), exponent, "{code}");
        }
    }

    #[test]
    fn currency_table_has_unique_uppercase_codes() {
        let all = Currency::all();
        for (i, c) in all.iter().enumerate() {
            assert_eq!(c.code().len(), 3);
            assert_eq!(c.code(), c.code().to_ascii_uppercase());
            assert!(all[i + 1..].iter().all(|o| o.code() != c.code()), "{c} twice");
            assert_eq!(Currency::parse(c.code()).unwrap(), *c);
        }
    }

    #[test]
    fn unknown_or_malformed_currency_is_a_field_error() {
        for bad in ["XYZ", "ZA", "ZARR", "", "Z4R", "€"] {
            let err = Currency::parse(bad).unwrap_err();
            assert_eq!(err.field, "currency", "{bad}");
        }
        assert!(Currency::parse("xyz").unwrap_err().message.contains("XYZ"));
    }

    #[test]
    fn currency_serde_is_the_code() {
        assert_eq!(serde_json::to_string(&Currency::AED).unwrap(), r#""AED""#);
        let c: Currency = serde_json::from_str(r#""aed""#).unwrap();
        assert_eq!(c, Currency::AED);
        assert!(serde_json::from_str::<Currency>(r#""QQQ""#).is_err());
    }

    #[test]
    fn parse_decimal_accepts_whole_and_fractional_amounts() {
        assert_eq!(zar("5100").unwrap().minor(), 510_000);
        assert_eq!(zar("5100.00").unwrap().minor(), 510_000);
        assert_eq!(zar("378.9").unwrap().minor(), 37_890);
        assert_eq!(zar("378.90").unwrap().minor(), 37_890);
        assert_eq!(zar("378.9000").unwrap().minor(), 37_890);
        assert_eq!(zar("0.01").unwrap().minor(), 1);
        assert_eq!(zar("007.50").unwrap().minor(), 750);
        assert_eq!(zar(" 12.34 ").unwrap().minor(), 1234);
        assert!(zar("0").unwrap().is_zero());
    }

    #[test]
    fn parse_decimal_rejects_more_places_than_the_currency_has() {
        let err = zar("378.905").unwrap_err();
        assert_eq!(err.field, "amount");
        assert!(err.message.contains("2 decimal places"), "{}", err.message);
        assert!(Money::parse_decimal("5100.5", Currency::JPY).is_err());
        assert_eq!(Money::parse_decimal("5100.00", Currency::JPY).unwrap().minor(), 5100);
        assert_eq!(Money::parse_decimal("1.234", Currency::KWD).unwrap().minor(), 1234);
        assert!(Money::parse_decimal("1.2345", Currency::KWD).is_err());
        assert_eq!(Money::parse_decimal("1.2340", Currency::KWD).unwrap().minor(), 1234);
    }

    #[test]
    fn parse_decimal_rejects_garbage() {
        for bad in [
            "",
            " ",
            ".",
            "5.",
            ".5",
            "NaN",
            "nan",
            "inf",
            "Infinity",
            "1e3",
            "1E3",
            "5100.00e0",
            "+5",
            "1,000.00",
            "1 000",
            "0x10",
            "12.3.4",
            "--5",
            "5-",
            "1_000",
            "٣",
        ] {
            let err = zar(bad).unwrap_err();
            assert_eq!(err.field, "amount", "{bad:?}");
        }
    }

    #[test]
    fn negatives_need_parse_signed() {
        assert_eq!(zar("-5").unwrap_err().message, "must not be negative");
        let m = Money::parse_signed("-378.9", Currency::ZAR).unwrap();
        assert_eq!(m.minor(), -37_890);
        assert!(m.is_negative());
        assert_eq!(Money::parse_signed("-0", Currency::ZAR).unwrap().minor(), 0);
        assert!(Money::parse_signed("-", Currency::ZAR).is_err());
    }

    #[test]
    fn overflow_is_a_field_error() {
        assert_eq!(zar("92233720368547758.07").unwrap().minor(), i64::MAX);
        assert_eq!(zar("92233720368547758.08").unwrap_err().field, "amount");
        assert_eq!(zar(&"9".repeat(60)).unwrap_err().message, "is too large");
        assert_eq!(
            Money::parse_signed("-92233720368547758.08", Currency::ZAR).unwrap().minor(),
            i64::MIN
        );
        // Leading zeros alone never overflow.
        assert_eq!(zar(&format!("{}1", "0".repeat(80))).unwrap().minor(), 100);
    }

    #[test]
    fn from_decimal_is_exact() {
        let d = Decimal::from_str("378.90").unwrap();
        assert_eq!(Money::from_decimal(d, Currency::ZAR).unwrap().minor(), 37_890);
        let d = Decimal::from_str("378.9000000").unwrap();
        assert_eq!(Money::from_decimal(d, Currency::ZAR).unwrap().minor(), 37_890);
        let d = Decimal::from_str("378.905").unwrap();
        assert_eq!(Money::from_decimal(d, Currency::ZAR).unwrap_err().field, "amount");
        let d = Decimal::from_str("-1.00").unwrap();
        assert!(Money::from_decimal(d, Currency::ZAR).is_err());
        assert_eq!(Money::from_decimal_signed(d, Currency::ZAR).unwrap().minor(), -100);
        let d = Decimal::from_str("-0.00").unwrap();
        assert!(Money::from_decimal(d, Currency::ZAR).unwrap().is_zero());
        assert_eq!(Money::from_decimal(Decimal::MAX, Currency::ZAR).unwrap_err().field, "amount");
        let d = Decimal::from_str("5100").unwrap();
        assert_eq!(Money::from_decimal(d, Currency::KWD).unwrap().minor(), 5_100_000);
    }

    #[test]
    fn to_decimal_has_the_currency_scale() {
        let m = zar("378.9").unwrap();
        assert_eq!(m.to_decimal().to_string(), "378.90");
        assert_eq!(m.to_decimal().scale(), 2);
        assert_eq!(Money::from_minor(5100, Currency::JPY).to_decimal().to_string(), "5100");
        assert_eq!(Money::from_minor(5, Currency::KWD).to_decimal().to_string(), "0.005");
        assert_eq!(Money::from_minor(-5, Currency::ZAR).to_decimal().to_string(), "-0.05");
        for minor in [0, 1, -1, 99, 37_890, i64::MAX, i64::MIN] {
            let m = Money::from_minor(minor, Currency::BHD);
            assert_eq!(Money::from_decimal_signed(m.to_decimal(), Currency::BHD).unwrap(), m);
        }
    }

    #[test]
    fn display_shows_all_places_and_the_code() {
        assert_eq!(zar("378.9").unwrap().to_string(), "378.90 ZAR");
        assert_eq!(Money::from_minor(5, Currency::ZAR).to_string(), "0.05 ZAR");
        assert_eq!(Money::from_minor(-5, Currency::ZAR).to_string(), "-0.05 ZAR");
        assert_eq!(Money::from_minor(5100, Currency::JPY).to_string(), "5100 JPY");
        assert_eq!(Money::from_minor(1234, Currency::KWD).to_string(), "1.234 KWD");
        assert_eq!(
            Money::from_minor(i64::MIN, Currency::ZAR).to_string(),
            "-92233720368547758.08 ZAR"
        );
        assert_eq!(format!("{:?}", zar("1").unwrap()), "Money(1.00 ZAR)");
    }

    #[test]
    fn customers_read_the_code_first_with_thousands_separated() {
        let show = |minor, currency| Money::from_minor(minor, currency).display().to_string();
        assert_eq!(show(510_000, Currency::AED), "AED 5,100.00");
        assert_eq!(show(5_134, Currency::GBP), "GBP 51.34");
        assert_eq!(show(5, Currency::ZAR), "ZAR 0.05");
        assert_eq!(show(0, Currency::ZAR), "ZAR 0.00");
        assert_eq!(show(99_999, Currency::ZAR), "ZAR 999.99");
        assert_eq!(show(100_000, Currency::ZAR), "ZAR 1,000.00");
        assert_eq!(show(123_456_789, Currency::USD), "USD 1,234,567.89");
        assert_eq!(show(5100, Currency::JPY), "JPY 5,100");
        assert_eq!(show(999, Currency::JPY), "JPY 999");
        assert_eq!(show(1_234_567, Currency::KWD), "KWD 1,234.567");
        assert_eq!(show(-500, Currency::GBP), "-GBP 5.00");
        assert_eq!(show(-100_000_000, Currency::ZAR), "-ZAR 1,000,000.00");
        assert_eq!(show(i64::MIN, Currency::ZAR), "-ZAR 92,233,720,368,547,758.08");
        assert_eq!(show(i64::MAX, Currency::XOF), "XOF 9,223,372,036,854,775,807");
        let number = |minor, currency| Money::from_minor(minor, currency).display().number();
        assert_eq!(number(510_000, Currency::AED).to_string(), "5,100.00");
        assert_eq!(number(-4_586, Currency::GBP).to_string(), "-45.86");
        // The machine-readable form is unchanged.
        assert_eq!(Money::from_minor(510_000, Currency::AED).to_string(), "5100.00 AED");
    }

    #[test]
    fn arithmetic_is_checked() {
        let a = zar("0.1").unwrap();
        let b = zar("0.2").unwrap();
        assert_eq!(a.checked_add(b).unwrap(), zar("0.3").unwrap());
        assert_eq!(a.checked_sub(b).unwrap().minor(), -10);
        let max = Money::from_minor(i64::MAX, Currency::ZAR);
        assert_eq!(
            max.checked_add(Money::from_minor(1, Currency::ZAR)).unwrap_err().field,
            "amount"
        );
        let min = Money::from_minor(i64::MIN, Currency::ZAR);
        assert!(min.checked_sub(Money::from_minor(1, Currency::ZAR)).is_err());
        assert_eq!(zar("10.99").unwrap().checked_mul(30).unwrap(), zar("329.70").unwrap());
        assert!(max.checked_mul(2).is_err());
        let sum = Money::checked_sum([a, b, a], Currency::ZAR).unwrap();
        assert_eq!(sum.to_string(), "0.40 ZAR");
        assert!(Money::checked_sum([], Currency::ZAR).unwrap().is_zero());
    }

    #[test]
    fn currency_mismatch_is_an_error() {
        let a = zar("1").unwrap();
        let b = Money::parse_decimal("1", Currency::USD).unwrap();
        let err = a.checked_add(b).unwrap_err();
        assert_eq!(err.field, "currency");
        assert!(err.message.contains("ZAR") && err.message.contains("USD"));
        assert!(a.checked_sub(b).is_err());
        assert!(Money::checked_sum([a], Currency::USD).is_err());
        assert_ne!(a, b);
    }

    #[derive(Serialize, Deserialize)]
    struct Body {
        #[serde(with = "decimal_number")]
        amount: Decimal,
        #[serde(with = "decimal_number::option", default)]
        fee: Option<Decimal>,
    }

    #[test]
    fn json_amounts_round_trip_as_written() {
        let body: Body = serde_json::from_str(r#"{"amount": 378.90}"#).unwrap();
        assert_eq!(body.amount.to_string(), "378.90");
        assert_eq!(body.fee, None);
        let money = Money::from_decimal(body.amount, Currency::ZAR).unwrap();
        assert_eq!(money.minor(), 37_890);
        let out = Body { amount: money.to_decimal(), fee: None };
        assert_eq!(serde_json::to_string(&out).unwrap(), r#"{"amount":378.90,"fee":null}"#);

        let body: Body = serde_json::from_str(r#"{"amount": 5100.00, "fee": 0.10}"#).unwrap();
        assert_eq!(body.amount.to_string(), "5100.00");
        assert_eq!(body.fee.unwrap().to_string(), "0.10");
        assert_eq!(serde_json::to_string(&body).unwrap(), r#"{"amount":5100.00,"fee":0.10}"#);

        // Scale comes from the currency, not from what the client happened to send.
        let body: Body = serde_json::from_str(r#"{"amount": 378.9}"#).unwrap();
        let money = Money::from_decimal(body.amount, Currency::ZAR).unwrap();
        let out = Body { amount: money.to_decimal(), fee: None };
        assert!(serde_json::to_string(&out).unwrap().starts_with(r#"{"amount":378.90"#));
    }

    #[test]
    fn json_writes_every_currency_scale_and_sign() {
        for (money, text) in [
            (Money::from_minor(-5, Currency::ZAR), "-0.05"),
            (Money::from_minor(5, Currency::KWD), "0.005"),
            (Money::from_minor(5100, Currency::JPY), "5100"),
            (Money::zero(Currency::ZAR), "0.00"),
            (Money::from_minor(i64::MAX, Currency::ZAR), "92233720368547758.07"),
        ] {
            let out = Body { amount: money.to_decimal(), fee: Some(money.to_decimal()) };
            let json = serde_json::to_string(&out).unwrap();
            assert_eq!(json, format!(r#"{{"amount":{text},"fee":{text}}}"#));
            let back: Body = serde_json::from_str(&json).unwrap();
            assert_eq!(Money::from_decimal_signed(back.amount, money.currency()).unwrap(), money);
        }
    }

    #[test]
    fn json_point_one_plus_point_two_is_exact() {
        let a: Body = serde_json::from_str(r#"{"amount": 0.1}"#).unwrap();
        let b: Body = serde_json::from_str(r#"{"amount": 0.2}"#).unwrap();
        assert_eq!((a.amount + b.amount).to_string(), "0.3");
        let sum = Money::from_decimal(a.amount, Currency::ZAR)
            .unwrap()
            .checked_add(Money::from_decimal(b.amount, Currency::ZAR).unwrap())
            .unwrap();
        assert_eq!(sum, zar("0.30").unwrap());
        let out = Body { amount: sum.to_decimal(), fee: None };
        assert!(serde_json::to_string(&out).unwrap().starts_with(r#"{"amount":0.30"#));
    }

    #[test]
    fn json_accepts_strings_integers_and_values() {
        let body: Body = serde_json::from_str(r#"{"amount": "378.90"}"#).unwrap();
        assert_eq!(body.amount.to_string(), "378.90");
        let body: Body = serde_json::from_str(r#"{"amount": 5100}"#).unwrap();
        assert_eq!(body.amount.to_string(), "5100");
        let body: Body = serde_json::from_str(r#"{"amount": 1.5e3}"#).unwrap();
        assert_eq!(body.amount, Decimal::from(1500));
        // Through serde_json::Value, whose numbers keep their text with arbitrary_precision.
        let value: serde_json::Value = serde_json::from_str(r#"{"amount": 378.90}"#).unwrap();
        assert_eq!(value.to_string(), r#"{"amount":378.90}"#);
        let body: Body = serde_json::from_value(value).unwrap();
        assert_eq!(body.amount.to_string(), "378.90");
        let body: Body = serde_json::from_value(serde_json::json!({"amount": 378.9})).unwrap();
        assert_eq!(body.amount.to_string(), "378.9");
    }

    #[test]
    fn json_rejects_non_numbers_and_unrepresentable_precision() {
        for bad in [
            r#"{"amount": "abc"}"#,
            r#"{"amount": "1_000"}"#,
            r#"{"amount": true}"#,
            r#"{"amount": null}"#,
            r#"{"amount": [1]}"#,
            r#"{"amount": 0.00000000000000000000000000000001}"#,
        ] {
            assert!(serde_json::from_str::<Body>(bad).is_err(), "{bad}");
        }
    }
}
