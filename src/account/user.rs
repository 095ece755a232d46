//! User accounts and their storage.

use chrono::{DateTime, Utc};

use crate::account::{Email, Password, Role};
use crate::customer::CustomerId;
use crate::db::Db;
use crate::error::{Error, Result};
use crate::merchant::MerchantId;
use crate::with_db;

crate::id_type!(
    /// Identifies a user account.
    UserId
);

/// A person who can log in.
#[derive(Clone, Debug)]
pub struct User {
    /// The account's id.
    pub id: UserId,
    /// The login name.
    pub email: Email,
    /// How pages greet them.
    pub display_name: String,
    /// What they may do.
    pub role: Role,
    /// The customer record a customer account pays for (`None` for staff).
    pub customer_id: Option<CustomerId>,
    /// The merchant a merchant's API login belongs to (`None` for everyone else).
    pub merchant_id: Option<MerchantId>,
    /// When the account was made.
    pub created_at: DateTime<Utc>,
}

/// Everything needed to open an account.
#[derive(Debug)]
pub struct NewUser {
    /// The login name.
    pub email: Email,
    /// How pages greet them.
    pub display_name: String,
    /// What they may do.
    pub role: Role,
    /// The password, hashed before it is stored.
    pub password: Password,
    /// Required for customers, absent for staff.
    pub customer_id: Option<CustomerId>,
}

#[derive(sqlx::FromRow)]
struct UserRow {
    id: UserId,
    email: String,
    display_name: String,
    role: String,
    password_hash: String,
    customer_id: Option<CustomerId>,
    merchant_id: Option<MerchantId>,
    created_at: DateTime<Utc>,
}

impl UserRow {
    fn into_user(self) -> Result<(User, String)> {
        let email = Email::parse(&self.email).map_err(|e| {
            Error::Internal(format!("stored email of user {} is invalid: {e}", self.id))
        })?;
        let role = self.role.parse().map_err(|e| {
            Error::Internal(format!("stored role of user {} is invalid: {e}", self.id))
        })?;
        let user = User {
            id: self.id,
            email,
            display_name: self.display_name,
            role,
            customer_id: self.customer_id,
            merchant_id: self.merchant_id,
            created_at: self.created_at,
        };
        Ok((user, self.password_hash))
    }
}

const SELECT_USER: &str = "SELECT id, email, display_name, role, password_hash, customer_id, merchant_id, created_at FROM users";

impl User {
    /// Opens an account; a second account with the same email is a conflict.
    pub async fn create(db: &Db, new: NewUser) -> Result<User> {
        Self::insert(db, new, None).await
    }

    /// Opens a merchant's API login (role `merchant_api`): it gets tokens through that merchant's
    /// client, which stand for the merchant.
    pub async fn create_for_merchant(
        db: &Db,
        merchant: &MerchantId,
        email: Email,
        display_name: &str,
        password: Password,
    ) -> Result<User> {
        let new = NewUser {
            email,
            display_name: display_name.to_owned(),
            role: Role::MerchantApi,
            password,
            customer_id: None,
        };
        Self::insert(db, new, Some(merchant.clone())).await
    }

    async fn insert(db: &Db, new: NewUser, merchant_id: Option<MerchantId>) -> Result<User> {
        if (new.role == Role::MerchantApi) != merchant_id.is_some() {
            return Err(Error::invalid(
                "merchant",
                "merchant API logins belong to a merchant; no other account does",
            ));
        }
        if (new.role == Role::Customer) != new.customer_id.is_some() {
            return Err(Error::invalid(
                "customer_id",
                "customer accounts need a customer record; staff accounts must not have one",
            ));
        }
        let display_name = new.display_name.trim().to_owned();
        if display_name.is_empty() {
            return Err(Error::invalid("display_name", "is required"));
        }
        let password_hash = new.password.hash().await?;
        let user = User {
            id: UserId::generate(),
            email: new.email,
            display_name,
            role: new.role,
            customer_id: new.customer_id,
            merchant_id,
            created_at: Utc::now(),
        };
        let sql = "INSERT INTO users (id, email, display_name, role, password_hash, customer_id, merchant_id, created_at)
                   VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (email) DO NOTHING";
        let inserted = with_db!(db, pool => sqlx::query(sql)
            .bind(&user.id)
            .bind(user.email.as_str())
            .bind(&user.display_name)
            .bind(user.role.as_str())
            .bind(&password_hash)
            .bind(&user.customer_id)
            .bind(&user.merchant_id)
            .bind(user.created_at)
            .execute(pool)
            .await
            .map(|r| r.rows_affected()))?;
        if inserted == 0 {
            return Err(Error::Conflict(format!("an account for {} already exists", user.email)));
        }
        Ok(user)
    }

    /// Loads an account by id.
    pub async fn find(db: &Db, id: &UserId) -> Result<Option<User>> {
        let sql = format!("{SELECT_USER} WHERE id = $1");
        let row: Option<UserRow> =
            with_db!(db, pool => sqlx::query_as(&sql).bind(id).fetch_optional(pool).await)?;
        row.map(|r| r.into_user().map(|(u, _)| u)).transpose()
    }

    /// Loads an account and its password hash by email (for login only).
    pub(crate) async fn find_with_hash(db: &Db, email: &Email) -> Result<Option<(User, String)>> {
        let sql = format!("{SELECT_USER} WHERE email = $1");
        let row: Option<UserRow> = with_db!(db, pool => sqlx::query_as(&sql)
            .bind(email.as_str())
            .fetch_optional(pool)
            .await)?;
        row.map(UserRow::into_user).transpose()
    }

    /// Whether any account exists yet (demo data loads only into an empty database).
    pub async fn any_exist(db: &Db) -> Result<bool> {
        let count: i64 = with_db!(db, pool => sqlx::query_scalar("SELECT COUNT(*) FROM users")
            .fetch_one(pool)
            .await)?;
        Ok(count > 0)
    }
}
