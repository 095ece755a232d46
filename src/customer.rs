//! Customers: who owes and pays (the seeds' person, customerCode, userId).

use chrono::{DateTime, Utc};

use crate::db::Db;
use crate::error::{Error, Result};
use crate::with_db;

crate::id_type!(
    /// Identifies a customer record.
    CustomerId
);

/// A customer as merchants know them.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct Customer {
    /// Settle's id.
    pub id: CustomerId,
    /// The merchant-facing code (`customerCode`, `person_id`).
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

impl Customer {
    /// Creates a customer; the code must be unique.
    pub async fn create(
        db: &Db,
        code: &str,
        name: &str,
        email: Option<&str>,
        phone: Option<&str>,
    ) -> Result<Customer> {
        let code = code.trim();
        if code.is_empty() {
            return Err(Error::invalid("code", "is required"));
        }
        let customer = Customer {
            id: CustomerId::generate(),
            code: code.to_owned(),
            name: name.trim().to_owned(),
            email: email.map(str::to_owned),
            phone: phone.map(str::to_owned),
            created_at: Utc::now(),
        };
        let sql = "INSERT INTO customers (id, code, name, email, phone, created_at) VALUES ($1, $2, $3, $4, $5, $6)";
        with_db!(db, pool => sqlx::query(sql)
            .bind(&customer.id)
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

    /// Loads a customer by id.
    pub async fn find(db: &Db, id: &CustomerId) -> Result<Option<Customer>> {
        let sql = "SELECT id, code, name, email, phone, created_at FROM customers WHERE id = $1";
        Ok(with_db!(db, pool => sqlx::query_as(sql).bind(id).fetch_optional(pool).await)?)
    }

    /// Loads a customer by their merchant-facing code.
    pub async fn find_by_code(db: &Db, code: &str) -> Result<Option<Customer>> {
        let sql = "SELECT id, code, name, email, phone, created_at FROM customers WHERE code = $1";
        Ok(with_db!(db, pool => sqlx::query_as(sql).bind(code).fetch_optional(pool).await)?)
    }
}
