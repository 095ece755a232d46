//! Customers as merchants tell Settle about them.

use crate::access::{self, Viewer};
use crate::account::Email;
use crate::billing::{Created, Limit, Page};
use crate::customer::{Customer, CustomerCode, Phone};
use crate::db::Db;
use crate::error::{Error, FieldError, Result};
use crate::merchant::MerchantId;

/// A customer as a merchant describes them.
#[derive(Clone, Debug, Default)]
pub struct CustomerInput {
    /// The merchant's code for them: non-empty, no spaces.
    pub code: String,
    /// Full name.
    pub name: String,
    /// Where receipts go, if known.
    pub email: Option<String>,
    /// Where SMS go, if known.
    pub phone: Option<String>,
}

/// The input, checked: every invalid field is reported at once.
struct CheckedCustomer {
    code: CustomerCode,
    name: String,
    email: Option<Email>,
    phone: Option<Phone>,
}

fn check(input: CustomerInput) -> Result<CheckedCustomer> {
    let mut errors = Vec::new();
    let code = CustomerCode::parse(&input.code).map_err(|e| errors.push(e)).ok();
    let name = input.name.trim().to_owned();
    if name.is_empty() {
        errors.push(FieldError::new("name", "is required"));
    } else if name.chars().count() > 200 || name.chars().any(char::is_control) {
        errors.push(FieldError::new("name", "must be at most 200 characters"));
    }
    let present = |o: Option<String>| o.filter(|s| !s.trim().is_empty());
    let email = present(input.email)
        .map(|e| Email::parse(&e))
        .transpose()
        .map_err(|e| errors.push(e.at("email")))
        .ok()
        .flatten();
    let phone = present(input.phone)
        .map(|p| Phone::parse(&p))
        .transpose()
        .map_err(|e| errors.push(e.at("phone")))
        .ok()
        .flatten();
    match code {
        Some(code) if errors.is_empty() => Ok(CheckedCustomer { code, name, email, phone }),
        _ => Err(Error::Validation(errors)),
    }
}

/// Creates the merchant's customer with this code, or updates their name, email and phone.
pub async fn upsert_customer(
    db: &Db,
    merchant: &MerchantId,
    input: CustomerInput,
) -> Result<(Customer, Created)> {
    let c = check(input)?;
    let (customer, created) = Customer::upsert(
        db,
        merchant,
        &c.code,
        &c.name,
        c.email.as_ref().map(|e| e.as_str()),
        c.phone.as_ref().map(Phone::as_str),
    )
    .await?;
    Ok((customer, if created { Created::New } else { Created::Existing }))
}

/// A page of the merchant system's customers, in code order after the code `after`.
pub async fn customers(
    db: &Db,
    viewer: &Viewer,
    after: Option<&str>,
    limit: Limit,
) -> Result<Page<Customer>> {
    let merchant = access::merchant_system(viewer)?;
    let items = Customer::list_for_merchant(db, merchant, after, limit.fetch()).await?;
    Ok(Page::of(items, limit, |c| c.code.clone()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(code: &str, email: Option<&str>, phone: Option<&str>) -> CustomerInput {
        CustomerInput {
            code: code.into(),
            name: "Thandi Mokoena".into(),
            email: email.map(Into::into),
            phone: phone.map(Into::into),
        }
    }

    #[test]
    fn every_bad_field_is_named() {
        let Err(Error::Validation(errors)) =
            check(input("CUST 1", Some("not-an-email"), Some("call me")))
        else {
            panic!("refused");
        };
        let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["customer_code", "email", "phone"]);
    }

    #[test]
    fn email_is_normalised_and_blanks_are_absent() {
        let c = check(input("CUST-1", Some(" Thandi@Example.COM "), Some(" "))).unwrap();
        assert_eq!(c.email.unwrap().as_str(), "thandi@example.com");
        assert!(c.phone.is_none());
        assert_eq!(c.code.as_str(), "CUST-1");
    }
}
