//! Operator configuration of products and their billing schemes: what an operator enters, its
//! rules (a message per field), and storing it with an audit entry.
//!
//! Changes apply to new purchases only: a purchase copies its unit price, tax rate and period
//! into its own lines when it is made (`purchase_lines`), so editing a product never changes
//! what an existing purchase owes.

pub mod prices;
pub mod route;
pub mod store;

use crate::billing::scheme::SchemeSettings;
use crate::checkout::InvoiceActivation;
use crate::error::{Error, FieldError, Result};
use crate::gateway_config::keep;
use crate::money::{Currency, Money};
use crate::payment_method::MethodKind;
use crate::product::{BillingKind, ServiceKind};
use crate::tax::TaxRate;

/// The product form as typed: every field text, checked by [`ProductInput::check`].
#[derive(Clone, Debug, Default)]
pub struct ProductInput {
    /// Short unique code (only read when creating).
    pub code: String,
    /// Display name.
    pub name: String,
    /// The merchant selling it (its id); blank: none.
    pub merchant_id: String,
    /// `policy` or `isp`.
    pub service_kind: String,
    /// `recurring_monthly`, `day_bundle` or `once_off`.
    pub billing_kind: String,
    /// ISO currency (only read when creating: the options' prices are in it).
    pub currency: String,
    /// Unit price excluding tax, as a decimal.
    pub unit_price: String,
    /// Tax rate in percent.
    pub tax_rate: String,
    /// Day of the month recurring purchases are collected; blank: none.
    pub collection_day: String,
    /// Whether bundles are bought again automatically before they run out.
    pub auto_recharge: bool,
    /// `on_payment` or `on_invoice`.
    pub invoice_activation: String,
    /// Accepted payment-method kinds (their stored names).
    pub method_kinds: Vec<String>,
    /// Days before a bundle ends that auto-recharge buys the next.
    pub recharge_days_before: String,
    /// How many months ahead a service may be paid.
    pub months_ahead_limit: String,
    /// Whether customers may pay now rather than only by collection.
    pub accepts_immediate_payments: bool,
}

/// Checked product settings, ready to store.
#[derive(Clone, Debug)]
pub struct ProductSettings {
    /// Display name.
    pub name: String,
    /// The merchant selling it.
    pub merchant_id: Option<String>,
    /// What its payments activate.
    pub service_kind: ServiceKind,
    /// How it is billed.
    pub billing_kind: BillingKind,
    /// Price of one unit, excluding tax (in the product's currency).
    pub unit_price: Money,
    /// Tax rate.
    pub tax_rate: TaxRate,
    /// Collection day of the month.
    pub collection_day: Option<u8>,
    /// Auto-recharge.
    pub auto_recharge: bool,
    /// When an invoiced service becomes active.
    pub invoice_activation: InvoiceActivation,
    /// Accepted payment-method kinds.
    pub method_kinds: Vec<MethodKind>,
    /// The scheme's settings.
    pub scheme: SchemeSettings,
}

/// A product code: 1 to 40 letters, digits, `-` or `_`, kept as typed (upper case by custom).
pub fn check_code(code: &str) -> Result<String, FieldError> {
    let code = code.trim();
    if code.is_empty()
        || code.len() > 40
        || !code.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        return Err(FieldError::new(
            "code",
            "must be 1 to 40 letters, digits, '-' or '_' (such as FIBRE-20-10)",
        ));
    }
    Ok(code.to_owned())
}

fn whole(
    field: &str,
    value: &str,
    range: std::ops::RangeInclusive<i64>,
) -> Result<i64, FieldError> {
    value.trim().parse::<i64>().ok().filter(|n| range.contains(n)).ok_or_else(|| {
        FieldError::new(
            field,
            format!("must be a whole number from {} to {}", range.start(), range.end()),
        )
    })
}

impl ProductInput {
    /// Checks a new product: its code and every field, one message per field that is wrong.
    pub fn check_new(&self) -> Result<(String, ProductSettings)> {
        match (check_code(&self.code), self.check(None)) {
            (Ok(code), Ok(settings)) => Ok((code, settings)),
            (Err(e), Ok(_)) => Err(e.into()),
            (Ok(_), Err(e)) => Err(e),
            (Err(e), Err(Error::Validation(mut errors))) => {
                errors.insert(0, e);
                Err(Error::Validation(errors))
            }
            (Err(_), Err(other)) => Err(other),
        }
    }

    /// Checks every field against the product's `currency` (the stored one when editing),
    /// collecting one message per field that is wrong.
    pub fn check(&self, currency: Option<Currency>) -> Result<ProductSettings> {
        let mut errors = Vec::new();
        let name = self.name.trim();
        let name = keep(
            &mut errors,
            if name.is_empty() || name.chars().count() > 100 {
                Err(FieldError::new("name", "is required, at most 100 characters"))
            } else {
                Ok(name.to_owned())
            },
        );
        let service_kind = keep(
            &mut errors,
            self.service_kind
                .trim()
                .parse::<ServiceKind>()
                .map_err(|_| FieldError::new("service_kind", "must be a policy or an ISP service")),
        );
        let billing_kind = keep(
            &mut errors,
            self.billing_kind.trim().parse::<BillingKind>().map_err(|_| {
                FieldError::new("billing_kind", "must be recurring monthly, day bundle or once-off")
            }),
        );
        let currency = match currency {
            Some(c) => Some(c),
            None => {
                keep(&mut errors, Currency::parse(&self.currency).map_err(|e| e.at("currency")))
            }
        };
        let unit_price = currency.and_then(|c| {
            keep(
                &mut errors,
                Money::parse_decimal(&self.unit_price, c).map_err(|_| {
                    FieldError::new(
                        "unit_price",
                        format!("must be an amount such as 329.70, in {}", c.code()),
                    )
                }),
            )
        });
        let tax_rate =
            keep(&mut errors, TaxRate::parse(&self.tax_rate).map_err(|e| e.at("tax_rate")));
        let collection_day = keep(
            &mut errors,
            if self.collection_day.trim().is_empty() {
                Ok(None)
            } else {
                whole("collection_day", &self.collection_day, 1..=31)
                    .map(|d| Some(d as u8))
                    .map_err(|_| {
                        FieldError::new(
                            "collection_day",
                            "must be a day of the month from 1 to 31, or blank",
                        )
                    })
            },
        );
        let invoice_activation = keep(
            &mut errors,
            self.invoice_activation.trim().parse::<InvoiceActivation>().map_err(|_| {
                FieldError::new("invoice_activation", "must be on payment or on invoice")
            }),
        );
        let method_kinds = keep(
            &mut errors,
            self.method_kinds
                .iter()
                .map(|k| k.trim().parse::<MethodKind>())
                .collect::<Result<Vec<_>, _>>()
                .map_err(|_| FieldError::new("method_kinds", "holds a kind Settle doesn't know"))
                .and_then(|kinds| {
                    if kinds.is_empty() {
                        Err(FieldError::new("method_kinds", "needs at least one way to pay"))
                    } else {
                        Ok(kinds)
                    }
                }),
        );
        let recharge_days_before =
            keep(&mut errors, whole("recharge_days_before", &self.recharge_days_before, 0..=60));
        let months_ahead_limit =
            keep(&mut errors, whole("months_ahead_limit", &self.months_ahead_limit, 1..=120));
        if let (Some(BillingKind::RecurringMonthly), Some(None)) = (billing_kind, collection_day) {
            errors.push(FieldError::new(
                "collection_day",
                "is required for a recurring product: the day of the month it is collected",
            ));
        }
        if let (Some(BillingKind::OnceOff), true) = (billing_kind, self.auto_recharge) {
            errors.push(FieldError::new(
                "auto_recharge",
                "is only for day bundles and recurring products: a once-off product is bought once",
            ));
        }
        let merchant_id =
            Some(self.merchant_id.trim()).filter(|m| !m.is_empty()).map(str::to_owned);
        match (
            name,
            service_kind,
            billing_kind,
            unit_price,
            tax_rate,
            collection_day,
            invoice_activation,
            method_kinds,
            recharge_days_before,
            months_ahead_limit,
        ) {
            (
                Some(name),
                Some(service_kind),
                Some(billing_kind),
                Some(unit_price),
                Some(tax_rate),
                Some(collection_day),
                Some(invoice_activation),
                Some(mut method_kinds),
                Some(recharge_days_before),
                Some(months_ahead_limit),
            ) if errors.is_empty() => {
                method_kinds.dedup();
                Ok(ProductSettings {
                    name,
                    merchant_id,
                    service_kind,
                    billing_kind,
                    unit_price,
                    tax_rate,
                    collection_day,
                    auto_recharge: self.auto_recharge,
                    invoice_activation,
                    method_kinds,
                    scheme: SchemeSettings {
                        recharge_days_before,
                        months_ahead_limit,
                        accepts_immediate_payments: self.accepts_immediate_payments,
                    },
                })
            }
            _ => Err(Error::Validation(errors)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input() -> ProductInput {
        ProductInput {
            code: "DAY-7".into(),
            name: "Day bundles".into(),
            service_kind: "isp".into(),
            billing_kind: "day_bundle".into(),
            currency: "ZAR".into(),
            unit_price: "10.00".into(),
            tax_rate: "15".into(),
            invoice_activation: "on_payment".into(),
            method_kinds: vec!["card".into()],
            recharge_days_before: "2".into(),
            months_ahead_limit: "12".into(),
            accepts_immediate_payments: true,
            ..ProductInput::default()
        }
    }

    #[test]
    fn a_good_form_checks_and_every_bad_field_is_named() {
        let ok = input().check(None).unwrap();
        assert_eq!(ok.unit_price.minor(), 1000);
        let mut bad = input();
        bad.name = String::new();
        bad.unit_price = "ten".into();
        bad.tax_rate = "150".into();
        bad.billing_kind = "recurring_monthly".into();
        bad.method_kinds = vec![];
        let Err(Error::Validation(errors)) = bad.check(None) else { panic!("accepted") };
        let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["name", "unit_price", "tax_rate", "method_kinds", "collection_day"]);
    }
}
