//! Customers: who owes and pays (the seeds' person, customerCode, userId). A customer belongs to
//! a merchant: the same code at two merchants is two customers.

use chrono::{DateTime, Utc};

use crate::db::Db;
use crate::error::{Error, FieldError, Result};
use crate::merchant::MerchantId;
use crate::with_db;

crate::id_type!(
    /// Identifies a customer record.
    CustomerId
);

/// A customer's code as their merchant knows it: non-empty, at most 64 characters, no spaces.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CustomerCode(String);

impl CustomerCode {
    /// Parses a code (surrounding spaces are dropped).
    pub fn parse(raw: &str) -> Result<CustomerCode, FieldError> {
        let code = raw.trim();
        if code.is_empty() {
            return Err(FieldError::new("customer_code", "is required"));
        }
        if code.chars().count() > 64 {
            return Err(FieldError::new("customer_code", "may be at most 64 characters"));
        }
        if code.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(FieldError::new("customer_code", "may not contain spaces"));
        }
        Ok(CustomerCode(code.to_owned()))
    }

    /// The code as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A phone number as people write it: `+`, digits and separators, 6 to 15 digits.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Phone(String);

impl Phone {
    /// Parses a phone number, keeping how it was written (`+27 82 555 0101`).
    pub fn parse(raw: &str) -> Result<Phone, FieldError> {
        let phone = raw.trim();
        let invalid = || FieldError::new("phone", "must be a phone number like +27 82 555 0101");
        let allowed = |c: char| c.is_ascii_digit() || matches!(c, ' ' | '-' | '(' | ')' | '.');
        let rest = phone.strip_prefix('+').unwrap_or(phone);
        if !rest.chars().all(allowed) {
            return Err(invalid());
        }
        let digits = rest.chars().filter(char::is_ascii_digit).count();
        if !(6..=15).contains(&digits) {
            return Err(invalid());
        }
        Ok(Phone(phone.to_owned()))
    }

    /// The number as written.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A customer as merchants know them.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct Customer {
    /// Settle's id.
    pub id: CustomerId,
    /// The merchant whose customer this is (`None`: created on Settle's own, by the CLI).
    pub merchant_id: Option<MerchantId>,
    /// The merchant-facing code (`customerCode`, `person_id`), unique per merchant.
    pub code: String,
    /// Full name.
    pub name: String,
    /// Where policy emails and receipts go.
    pub email: Option<String>,
    /// Where policy SMS go.
    pub phone: Option<String>,
    /// When the record was made.
    pub created_at: DateTime<Utc>,
}

const SELECT_CUSTOMER: &str =
    "SELECT id, merchant_id, code, name, email, phone, created_at FROM customers";

impl Customer {
    /// Creates a customer of no merchant (Settle's own, from the CLI); the code must be unique.
    pub async fn create(
        db: &Db,
        code: &str,
        name: &str,
        email: Option<&str>,
        phone: Option<&str>,
    ) -> Result<Customer> {
        let code = CustomerCode::parse(code).map_err(|e| e.at("code"))?;
        let customer = Customer {
            id: CustomerId::generate(),
            merchant_id: None,
            code: code.as_str().to_owned(),
            name: name.trim().to_owned(),
            email: email.map(str::to_owned),
            phone: phone.map(str::to_owned),
            created_at: Utc::now(),
        };
        let sql = "INSERT INTO customers (id, merchant_id, code, name, email, phone, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)";
        with_db!(db, pool => sqlx::query(sql)
            .bind(&customer.id)
            .bind(&customer.merchant_id)
            .bind(&customer.code)
            .bind(&customer.name)
            .bind(&customer.email)
            .bind(&customer.phone)
            .bind(customer.created_at)
            .execute(pool)
            .await
            .map(|_| ()))?;
        Ok(customer)
    }

    /// Creates a customer of Settle's own (no merchant) inside `tx`, for an operator creating
    /// their login in the same transaction; a code already taken is a conflict.
    pub(crate) async fn create_in(
        tx: &mut crate::db::Tx,
        code: &CustomerCode,
        name: &str,
        email: &str,
    ) -> Result<Customer> {
        let customer = Customer {
            id: CustomerId::generate(),
            merchant_id: None,
            code: code.as_str().to_owned(),
            name: name.trim().to_owned(),
            email: Some(email.to_owned()),
            phone: None,
            created_at: Utc::now(),
        };
        let taken = "SELECT COUNT(*) FROM customers WHERE merchant_id IS NULL AND code = $1";
        let count: i64 = crate::with_tx!(tx, conn => sqlx::query_scalar(taken)
            .bind(&customer.code)
            .fetch_one(conn)
            .await)?;
        if count > 0 {
            return Err(Error::invalid("customer_code", "is already another customer's"));
        }
        let sql = "INSERT INTO customers (id, merchant_id, code, name, email, phone, created_at) VALUES ($1, NULL, $2, $3, $4, NULL, $5)";
        crate::with_tx!(tx, conn => sqlx::query(sql)
            .bind(&customer.id)
            .bind(&customer.code)
            .bind(&customer.name)
            .bind(&customer.email)
            .bind(customer.created_at)
            .execute(conn)
            .await
            .map(|_| ()))?;
        Ok(customer)
    }

    /// Creates the merchant's customer with this code, or updates their name, email and phone;
    /// `true` when it was created. Concurrent calls make one customer (the unique index decides).
    pub async fn upsert(
        db: &Db,
        merchant: &MerchantId,
        code: &CustomerCode,
        name: &str,
        email: Option<&str>,
        phone: Option<&str>,
    ) -> Result<(Customer, bool)> {
        Customer::upsert_with_id(db, CustomerId::generate(), merchant, code, name, email, phone)
            .await
    }

    /// [`Customer::upsert`] giving a new customer the id `id` (demo data whose ids documents
    /// name); an existing customer keeps theirs.
    pub async fn upsert_with_id(
        db: &Db,
        id: CustomerId,
        merchant: &MerchantId,
        code: &CustomerCode,
        name: &str,
        email: Option<&str>,
        phone: Option<&str>,
    ) -> Result<(Customer, bool)> {
        let insert = "INSERT INTO customers (id, merchant_id, code, name, email, phone, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)
             ON CONFLICT (merchant_id, code) DO NOTHING
             RETURNING id, merchant_id, code, name, email, phone, created_at";
        let created: Option<Customer> = with_db!(db, pool => sqlx::query_as(insert)
            .bind(id)
            .bind(merchant)
            .bind(code.as_str())
            .bind(name)
            .bind(email)
            .bind(phone)
            .bind(Utc::now())
            .fetch_optional(pool)
            .await)?;
        if let Some(customer) = created {
            return Ok((customer, true));
        }
        let update = "UPDATE customers SET name = $3, email = $4, phone = $5 WHERE merchant_id = $1 AND code = $2
                      RETURNING id, merchant_id, code, name, email, phone, created_at";
        let updated: Customer = with_db!(db, pool => sqlx::query_as(update)
            .bind(merchant)
            .bind(code.as_str())
            .bind(name)
            .bind(email)
            .bind(phone)
            .fetch_one(pool)
            .await)?;
        Ok((updated, false))
    }

    /// Loads a customer by id.
    pub async fn find(db: &Db, id: &CustomerId) -> Result<Option<Customer>> {
        let sql = format!("{SELECT_CUSTOMER} WHERE id = $1");
        Ok(with_db!(db, pool => sqlx::query_as(&sql).bind(id).fetch_optional(pool).await)?)
    }

    /// Loads a merchant's customer by the code the merchant knows them by.
    pub async fn find_by_code(
        db: &Db,
        merchant: &MerchantId,
        code: &str,
    ) -> Result<Option<Customer>> {
        let sql = format!("{SELECT_CUSTOMER} WHERE merchant_id = $1 AND code = $2");
        Ok(
            with_db!(db, pool => sqlx::query_as(&sql).bind(merchant).bind(code).fetch_optional(pool).await)?,
        )
    }

    /// A page of the merchant's customers in code order, after the code `after`.
    pub async fn list_for_merchant(
        db: &Db,
        merchant: &MerchantId,
        after: Option<&str>,
        limit: i64,
    ) -> Result<Vec<Customer>> {
        let sql = format!(
            "{SELECT_CUSTOMER} WHERE merchant_id = $1 AND code > $2 ORDER BY code LIMIT $3"
        );
        Ok(with_db!(db, pool => sqlx::query_as(&sql)
            .bind(merchant)
            .bind(after.unwrap_or(""))
            .bind(limit)
            .fetch_all(pool)
            .await)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_non_empty_words() {
        assert_eq!(CustomerCode::parse(" CUST-0001 ").unwrap().as_str(), "CUST-0001");
        assert!(CustomerCode::parse("  ").is_err());
        assert!(CustomerCode::parse("CUST 0001").is_err());
        assert!(CustomerCode::parse(&"x".repeat(65)).is_err());
    }

    #[test]
    fn phones_are_digits_with_separators() {
        assert_eq!(Phone::parse("+27 82 555 0101").unwrap().as_str(), "+27 82 555 0101");
        assert!(Phone::parse("(021) 555-0101").is_ok());
        assert!(Phone::parse("12345").is_err(), "too short");
        assert!(Phone::parse("call me").is_err());
        assert!(Phone::parse("+27 82 555 0101 ext 4").is_err());
        assert!(Phone::parse("++2782555010").is_err());
    }
}
