//! Tax rates and the one rounding rule Settle uses for tax.
//!
//! **Rounding rule.** Rates are whole basis points (0.01 %) from 0 % to 100 %. Tax is computed
//! on the amount excluding tax and rounded half away from zero to the currency's minor unit:
//! `tax = round(amount_excl × rate)`, `amount = amount_excl + tax`. A tax-inclusive price is
//! split as `tax = round(amount × rate / (1 + rate))`, `amount_excl = amount − tax`, so the
//! price the customer was quoted never changes. All arithmetic is exact integer arithmetic on
//! minor units; the single rounding step is the last one. Splitting `amount_excl + tax`
//! again gives back the same `amount_excl` and `tax`.
//!
//! **Lines and purchases.** Tax is rounded once per purchase line, on the line's total (unit
//! price × quantity), never per unit. A purchase's `amount_excl`, `tax_amount` and `amount` are
//! the sums of its lines' values, so per-line and per-purchase figures always agree and
//! `amount == amount_excl + tax_amount` holds for every line and for the purchase.

use std::fmt;
use std::str::FromStr;

use rust_decimal::Decimal;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::FieldError;
use crate::money::{Currency, Money, decimal_number};

/// The field name clients use for tax rates.
const RATE_FIELD: &str = "tax_rate";
/// Basis points in 100 %.
const FULL: u32 = 10_000;

/// A tax rate in basis points: 15 % is 1500.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct TaxRate(u32);

impl TaxRate {
    /// No tax.
    pub const ZERO: TaxRate = TaxRate(0);

    /// A rate given in basis points (1500 for 15 %); above 10 000 (100 %) is an error.
    pub fn from_basis_points(basis_points: u32) -> Result<TaxRate, FieldError> {
        if basis_points > FULL {
            return Err(FieldError::new(RATE_FIELD, "must be between 0 and 100 percent"));
        }
        Ok(TaxRate(basis_points))
    }

    /// A rate given as a percentage (`15`, `15.0`, `7.25`), at most two decimal places.
    pub fn from_percent(percent: Decimal) -> Result<TaxRate, FieldError> {
        if (percent.is_sign_negative() && !percent.is_zero()) || percent > Decimal::ONE_HUNDRED {
            return Err(FieldError::new(RATE_FIELD, "must be between 0 and 100 percent"));
        }
        let percent = percent.normalize();
        if percent.scale() > 2 {
            return Err(FieldError::new(RATE_FIELD, "must have at most two decimal places"));
        }
        // 0 ≤ percent ≤ 100 with at most two places, so the mantissa scaled to hundredths is
        // at most 10 000.
        let hundredths = percent.mantissa() * 10_i128.pow(2 - percent.scale());
        let basis_points = u32::try_from(hundredths)
            .map_err(|_| FieldError::new(RATE_FIELD, "must be between 0 and 100 percent"))?;
        TaxRate::from_basis_points(basis_points)
    }

    /// Parses a percentage such as `15` or `15.0`.
    pub fn parse(input: &str) -> Result<TaxRate, FieldError> {
        let text = input.trim();
        let valid = !text.is_empty() && text.chars().all(|c| c.is_ascii_digit() || c == '.');
        let percent = Decimal::from_str_exact(text).ok().filter(|_| valid).ok_or_else(|| {
            FieldError::new(RATE_FIELD, "must be a percentage such as 15 or 15.0")
        })?;
        TaxRate::from_percent(percent)
    }

    /// The rate in basis points.
    pub fn basis_points(self) -> u32 {
        self.0
    }

    /// The rate as a percentage with at least one decimal place, as the seeds show it (`15.0`).
    pub fn percent(self) -> Decimal {
        let percent = Decimal::new(i64::from(self.0), 2).normalize();
        if percent.scale() == 0 { Decimal::new(i64::from(self.0) / 10, 1) } else { percent }
    }

    /// Tax on an amount that excludes tax, rounded half away from zero to the minor unit.
    pub fn tax_on_exclusive(self, excl: Money) -> Money {
        let tax = round_div(i128::from(excl.minor()) * i128::from(self.0), i128::from(FULL));
        // The rate is at most 100 %, so |tax| ≤ |excl| and it fits where excl did.
        Money::from_minor(tax as i64, excl.currency())
    }

    /// Splits a tax-inclusive amount: `tax = round(gross × rate / (1 + rate))`, the rest is
    /// the amount excluding tax.
    pub fn split_inclusive(self, gross: Money) -> TaxSplit {
        let tax =
            round_div(i128::from(gross.minor()) * i128::from(self.0), i128::from(FULL + self.0));
        // rate / (1 + rate) ≤ ½, so |tax| ≤ |gross| and gross − tax has gross's sign and a
        // smaller magnitude: both fit in an i64.
        let tax = tax as i64;
        let currency = gross.currency();
        TaxSplit {
            excl: Money::from_minor(gross.minor() - tax, currency),
            tax: Money::from_minor(tax, currency),
            gross,
        }
    }

    /// Adds tax to an amount that excludes it; an overflow is an error.
    pub fn split_exclusive(self, excl: Money) -> Result<TaxSplit, FieldError> {
        let tax = self.tax_on_exclusive(excl);
        let gross = excl.checked_add(tax)?;
        Ok(TaxSplit { excl, tax, gross })
    }
}

/// `num / den` rounded half away from zero; `den` is positive.
fn round_div(num: i128, den: i128) -> i128 {
    let (quotient, remainder) = (num / den, num % den);
    if 2 * remainder.abs() >= den { quotient + num.signum() } else { quotient }
}

impl fmt::Debug for TaxRate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TaxRate({}%)", self.percent())
    }
}

impl fmt::Display for TaxRate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}%", self.percent())
    }
}

impl FromStr for TaxRate {
    type Err = FieldError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        TaxRate::parse(s)
    }
}

/// Serialized as a JSON number percentage (`15.0`), like the seeds' `tax_rate`.
impl Serialize for TaxRate {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        decimal_number::serialize(&self.percent(), serializer)
    }
}

/// Read from a JSON number or string percentage (`15`, `15.0`, `"15"`).
impl<'de> Deserialize<'de> for TaxRate {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let percent = decimal_number::deserialize(deserializer)?;
        TaxRate::from_percent(percent).map_err(|e| serde::de::Error::custom(e.message))
    }
}

/// An amount split into the part excluding tax and the tax; `gross == excl + tax` always.
///
/// The fields are private and every constructor establishes the invariant, so a `TaxSplit`
/// that exists is consistent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TaxSplit {
    excl: Money,
    tax: Money,
    gross: Money,
}

impl TaxSplit {
    /// Nothing, in `currency`.
    pub fn zero(currency: Currency) -> TaxSplit {
        let zero = Money::zero(currency);
        TaxSplit { excl: zero, tax: zero, gross: zero }
    }

    /// A split from its two parts (e.g. as stored); the gross is their sum.
    pub fn from_parts(excl: Money, tax: Money) -> Result<TaxSplit, FieldError> {
        let gross = excl.checked_add(tax)?;
        Ok(TaxSplit { excl, tax, gross })
    }

    /// Checks a client's three figures (`amount_excl`, `tax_amount`, `amount`) agree.
    pub fn verify(excl: Money, tax: Money, gross: Money) -> Result<TaxSplit, FieldError> {
        let split = TaxSplit::from_parts(excl, tax)?;
        if split.gross != gross {
            return Err(FieldError::new(
                "amount",
                format!("must equal amount_excl + tax_amount ({})", split.gross),
            ));
        }
        Ok(split)
    }

    /// The amount excluding tax.
    pub fn excl(self) -> Money {
        self.excl
    }

    /// The tax.
    pub fn tax(self) -> Money {
        self.tax
    }

    /// The amount including tax.
    pub fn gross(self) -> Money {
        self.gross
    }

    /// The currency of all three figures.
    pub fn currency(self) -> Currency {
        self.gross.currency()
    }

    /// Adds two splits part by part; the invariant carries over because addition is exact.
    pub fn checked_add(self, other: TaxSplit) -> Result<TaxSplit, FieldError> {
        Ok(TaxSplit {
            excl: self.excl.checked_add(other.excl)?,
            tax: self.tax.checked_add(other.tax)?,
            gross: self.gross.checked_add(other.gross)?,
        })
    }

    /// A purchase's totals: the sum of its lines' splits (zero in `currency` with no lines).
    ///
    /// Lines are rounded one by one and then added, never re-rounded as a whole, so the
    /// purchase's figures equal the sums of the figures shown on its lines.
    pub fn total(
        lines: impl IntoIterator<Item = TaxSplit>,
        currency: Currency,
    ) -> Result<TaxSplit, FieldError> {
        lines.into_iter().try_fold(TaxSplit::zero(currency), TaxSplit::checked_add)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal::RoundingStrategy;

    fn zar(s: &str) -> Money {
        Money::parse_decimal(s, Currency::ZAR).unwrap()
    }

    fn rate(s: &str) -> TaxRate {
        TaxRate::parse(s).unwrap()
    }

    #[test]
    fn rates_parse_from_text_and_decimals() {
        assert_eq!(rate("15").basis_points(), 1500);
        assert_eq!(rate("15.0").basis_points(), 1500);
        assert_eq!(rate("15.00").basis_points(), 1500);
        assert_eq!(rate("7.25").basis_points(), 725);
        assert_eq!(rate("0").basis_points(), 0);
        assert_eq!(rate("100").basis_points(), 10_000);
        assert_eq!(TaxRate::from_percent(Decimal::new(150, 1)).unwrap().basis_points(), 1500);
        assert_eq!(TaxRate::from_basis_points(1500).unwrap(), rate("15"));
    }

    #[test]
    fn bad_rates_are_field_errors() {
        for bad in ["", "abc", "-1", "100.01", "101", "15.001", "1e1", "15%", "NaN", "1_5"] {
            let err = TaxRate::parse(bad).unwrap_err();
            assert_eq!(err.field, "tax_rate", "{bad:?}");
        }
        assert!(TaxRate::from_basis_points(10_001).is_err());
        assert!(TaxRate::from_percent(Decimal::new(-1, 0)).is_err());
        assert_eq!(TaxRate::parse("15.000").unwrap().basis_points(), 1500);
    }

    #[test]
    fn rates_print_and_serialize_as_percentages() {
        assert_eq!(rate("15").to_string(), "15.0%");
        assert_eq!(rate("7.25").to_string(), "7.25%");
        assert_eq!(rate("7.5").percent().to_string(), "7.5");
        assert_eq!(rate("0").percent().to_string(), "0.0");
        assert_eq!(rate("100").percent().to_string(), "100.0");
        assert_eq!(serde_json::to_string(&rate("15")).unwrap(), "15.0");
        assert_eq!(serde_json::from_str::<TaxRate>("15.0").unwrap(), rate("15"));
        assert_eq!(serde_json::from_str::<TaxRate>("15").unwrap(), rate("15"));
        assert_eq!(serde_json::from_str::<TaxRate>(r#""7.25""#).unwrap(), rate("7.25"));
        assert!(serde_json::from_str::<TaxRate>("150").is_err());
    }

    #[test]
    fn tax_on_exclusive_rounds_half_away_from_zero() {
        let r = rate("15");
        assert_eq!(r.tax_on_exclusive(zar("30")), zar("4.50"));
        // 329.70 × 15 % = 49.455 → 49.46
        assert_eq!(r.tax_on_exclusive(zar("329.70")), zar("49.46"));
        // 0.03 × 15 % = 0.0045 → 0.00; 0.10 × 15 % = 0.015 → 0.02
        assert_eq!(r.tax_on_exclusive(zar("0.03")), zar("0"));
        assert_eq!(r.tax_on_exclusive(zar("0.10")), zar("0.02"));
        let minus = Money::parse_signed("-0.10", Currency::ZAR).unwrap();
        assert_eq!(r.tax_on_exclusive(minus).minor(), -2);
        assert_eq!(rate("100").tax_on_exclusive(zar("1.23")), zar("1.23"));
        assert!(TaxRate::ZERO.tax_on_exclusive(zar("1.23")).is_zero());
        let yen = Money::from_minor(1005, Currency::JPY);
        assert_eq!(rate("10").tax_on_exclusive(yen).minor(), 101);
    }

    #[test]
    fn split_inclusive_keeps_the_gross() {
        let r = rate("15");
        // 34.50 / 1.15 = 30.00 exactly.
        let split = r.split_inclusive(zar("34.50"));
        assert_eq!(
            (split.excl(), split.tax(), split.gross()),
            (zar("30"), zar("4.50"), zar("34.50"))
        );
        // 1000 × 15 / 115 = 130.434… → 130.43
        let split = r.split_inclusive(zar("1000"));
        assert_eq!((split.excl(), split.tax()), (zar("869.57"), zar("130.43")));
        // 378.90 × 15 / 115 = 49.421… → 49.42
        let split = r.split_inclusive(zar("378.90"));
        assert_eq!((split.excl(), split.tax()), (zar("329.48"), zar("49.42")));
        let split = rate("100").split_inclusive(zar("0.01"));
        assert_eq!((split.excl(), split.tax()), (zar("0"), zar("0.01")));
        assert_eq!(split.currency(), Currency::ZAR);
    }

    #[test]
    fn split_exclusive_and_overflow() {
        let split = rate("15").split_exclusive(zar("329.70")).unwrap();
        assert_eq!(split.gross(), zar("379.16"));
        let huge = Money::from_minor(i64::MAX, Currency::ZAR);
        assert_eq!(rate("15").split_exclusive(huge).unwrap_err().field, "amount");
        // The inclusive split cannot overflow, even at the extremes.
        for minor in [i64::MAX, i64::MIN, i64::MIN + 1] {
            let gross = Money::from_minor(minor, Currency::ZAR);
            for bp in [0, 1, 1500, 9999, 10_000] {
                let split = TaxRate(bp).split_inclusive(gross);
                assert_eq!(split.excl().checked_add(split.tax()).unwrap(), gross);
            }
        }
    }

    #[test]
    fn verify_and_from_parts() {
        let ok = TaxSplit::verify(zar("30"), zar("4.50"), zar("34.50")).unwrap();
        assert_eq!(ok.gross(), zar("34.50"));
        // Seed 004's arrears purchase: its own figures add up, whatever rate produced them.
        assert!(TaxSplit::verify(zar("329.70"), zar("49.20"), zar("378.90")).is_ok());
        let err = TaxSplit::verify(zar("30"), zar("4.50"), zar("34.51")).unwrap_err();
        assert_eq!(err.field, "amount");
        let usd = Money::parse_decimal("1", Currency::USD).unwrap();
        assert_eq!(TaxSplit::from_parts(zar("1"), usd).unwrap_err().field, "currency");
    }

    #[test]
    fn purchase_total_is_the_sum_of_its_lines() {
        let r = rate("15");
        let lines: Vec<TaxSplit> =
            ["0.10", "0.10", "0.10"].iter().map(|p| r.split_exclusive(zar(p)).unwrap()).collect();
        let total = TaxSplit::total(lines.iter().copied(), Currency::ZAR).unwrap();
        // Each line rounds 0.015 up to 0.02, so the purchase shows 0.06, not round(0.045).
        assert_eq!(total.tax(), zar("0.06"));
        assert_eq!(total.excl(), zar("0.30"));
        assert_eq!(total.gross(), zar("0.36"));
        assert_eq!(TaxSplit::total([], Currency::ZAR).unwrap(), TaxSplit::zero(Currency::ZAR));
        let usd = rate("15").split_inclusive(Money::parse_decimal("1", Currency::USD).unwrap());
        assert_eq!(TaxSplit::total([lines[0], usd], Currency::ZAR).unwrap_err().field, "currency");
    }

    /// A small deterministic generator, so the property tests need no extra crate.
    struct Lcg(u64);

    impl Lcg {
        fn next(&mut self) -> u64 {
            self.0 = self
                .0
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            self.0 >> 11
        }
    }

    fn amounts() -> Vec<i64> {
        let mut values: Vec<i64> = (-300..=300).collect();
        let mut rng = Lcg(42);
        for _ in 0..3_000 {
            let magnitude = 10_i64.pow((rng.next() % 15) as u32);
            let v = (rng.next() as i64) % magnitude;
            values.push(if rng.next().is_multiple_of(3) { -v } else { v });
        }
        values.extend([37_890, 32_970, 100_000, 3_450, i64::MAX / 2, i64::MIN / 2]);
        values
    }

    fn rates() -> Vec<u32> {
        let mut values = vec![0, 1, 5, 50, 99, 100, 500, 725, 1400, 1499, 1500, 1501, 2000];
        values.extend([3333, 5000, 6667, 9999, 10_000]);
        values
    }

    fn oracle_round(value: Decimal, currency: Currency) -> i64 {
        let rounded = value
            .round_dp_with_strategy(currency.exponent(), RoundingStrategy::MidpointAwayFromZero);
        Money::from_decimal_signed(rounded, currency).unwrap().minor()
    }

    #[test]
    fn property_invariant_and_rounding_hold_for_many_amounts_and_rates() {
        for currency in [Currency::ZAR, Currency::JPY, Currency::KWD] {
            for &minor in &amounts() {
                let amount = Money::from_minor(minor, currency);
                for &bp in &rates() {
                    let r = TaxRate(bp);
                    let rate = Decimal::new(i64::from(bp), 4);

                    let tax = r.tax_on_exclusive(amount);
                    let expected = oracle_round(amount.to_decimal() * rate, currency);
                    assert_eq!(tax.minor(), expected, "{amount} at {r}");
                    assert!(tax.minor().abs() <= minor.abs());

                    let split = r.split_inclusive(amount);
                    assert_eq!(split.excl().checked_add(split.tax()).unwrap(), split.gross());
                    assert_eq!(split.gross(), amount);
                    let expected =
                        oracle_round(amount.to_decimal() * rate / (Decimal::ONE + rate), currency);
                    assert_eq!(split.tax().minor(), expected, "{amount} incl at {r}");

                    // Adding tax and splitting again gives the same figures back.
                    if let Ok(excl_split) = r.split_exclusive(amount) {
                        assert_eq!(
                            excl_split.excl().checked_add(excl_split.tax()).unwrap(),
                            excl_split.gross()
                        );
                        assert_eq!(r.split_inclusive(excl_split.gross()), excl_split);
                    }
                }
            }
        }
    }

    #[test]
    fn property_totals_agree_with_their_lines() {
        let mut rng = Lcg(7);
        for _ in 0..500 {
            let count = (rng.next() % 6) as usize;
            let lines: Vec<TaxSplit> = (0..count)
                .map(|_| {
                    let amount = Money::from_minor((rng.next() % 10_000_000) as i64, Currency::ZAR);
                    let r = TaxRate((rng.next() % 10_001) as u32);
                    if rng.next().is_multiple_of(2) {
                        r.split_inclusive(amount)
                    } else {
                        r.split_exclusive(amount).unwrap()
                    }
                })
                .collect();
            let total = TaxSplit::total(lines.iter().copied(), Currency::ZAR).unwrap();
            assert_eq!(total.excl().checked_add(total.tax()).unwrap(), total.gross());
            let sum = |f: fn(TaxSplit) -> Money| {
                Money::checked_sum(lines.iter().map(|l| f(*l)), Currency::ZAR).unwrap()
            };
            assert_eq!(total.excl(), sum(TaxSplit::excl));
            assert_eq!(total.tax(), sum(TaxSplit::tax));
            assert_eq!(total.gross(), sum(TaxSplit::gross));
        }
    }
}
