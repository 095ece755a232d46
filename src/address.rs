//! Postal addresses: a policy's address, a card's billing address.

use serde::{Deserialize, Serialize};

/// A postal address, line by line; every line may be missing.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Address {
    /// House number or name.
    pub house: Option<String>,
    /// Street.
    pub street: Option<String>,
    /// City.
    pub city: Option<String>,
    /// County or region.
    pub county: Option<String>,
    /// Postcode.
    pub postcode: Option<String>,
}

impl Address {
    /// Whether no line is filled in.
    pub fn is_empty(&self) -> bool {
        *self == Address::default()
    }

    /// The address on one line (`21b Tuesday Market Place, King's Lynn, PE301JW`), for pages
    /// and documents.
    pub fn one_line(&self) -> String {
        fn part(line: &Option<String>) -> Option<&str> {
            line.as_deref().map(str::trim).filter(|l| !l.is_empty())
        }
        let first: Vec<&str> =
            [part(&self.house), part(&self.street)].into_iter().flatten().collect();
        let first = (!first.is_empty()).then(|| first.join(" "));
        [first.as_deref(), part(&self.city), part(&self.county), part(&self.postcode)]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_read_as_one_line() {
        let address = Address {
            house: Some("21b".into()),
            street: Some("Tuesday Market Place".into()),
            city: Some("King's Lynn".into()),
            county: None,
            postcode: Some("PE301JW".into()),
        };
        assert_eq!(address.one_line(), "21b Tuesday Market Place, King's Lynn, PE301JW");
        assert!(Address::default().is_empty() && Address::default().one_line().is_empty());
    }
}
