//! User accounts and their storage.

use chrono::{DateTime, Utc};

use crate::account::{Email, Password, Role};
use crate::customer::CustomerId;
use crate::db::Db;
use crate::db::Tx;
use crate::error::{Error, Result};
use crate::merchant::MerchantId;
use crate::{with_db, with_tx};

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
    /// When an operator disabled it (it can't log in and its sessions and tokens ended then).
    pub disabled_at: Option<DateTime<Utc>>,
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

/// A checked account with its password hashed, ready to store.
#[derive(Debug)]
pub(crate) struct HashedUser {
    user: User,
    password_hash: String,
}

impl HashedUser {
    /// Gives a customer account the customer record made in the same transaction.
    pub(crate) fn set_customer(&mut self, customer: CustomerId) {
        self.user.customer_id = Some(customer);
    }
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
    disabled_at: Option<DateTime<Utc>>,
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
            disabled_at: self.disabled_at,
        };
        Ok((user, self.password_hash))
    }
}

const SELECT_USER: &str = "SELECT id, email, display_name, role, password_hash, customer_id, merchant_id, created_at, disabled_at FROM users";

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
        let hashed = Self::prepare(new, merchant_id).await?;
        let mut tx = db.begin().await?;
        let user = Self::insert_in(&mut tx, hashed).await?;
        tx.commit().await?;
        Ok(user)
    }

    /// Checks a new account and hashes its password (before any transaction: hashing takes
    /// tens of milliseconds).
    pub(crate) async fn prepare(
        new: NewUser,
        merchant_id: Option<MerchantId>,
    ) -> Result<HashedUser> {
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
            disabled_at: None,
        };
        Ok(HashedUser { user, password_hash })
    }

    /// Stores a prepared account inside `tx`; a second account with the same email is a
    /// conflict.
    pub(crate) async fn insert_in(tx: &mut Tx, hashed: HashedUser) -> Result<User> {
        let HashedUser { user, password_hash } = hashed;
        let sql = "INSERT INTO users (id, email, display_name, role, password_hash, customer_id, merchant_id, created_at)
                   VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (email) DO NOTHING";
        let inserted = with_tx!(tx, conn => sqlx::query(sql)
            .bind(&user.id)
            .bind(user.email.as_str())
            .bind(&user.display_name)
            .bind(user.role.as_str())
            .bind(&password_hash)
            .bind(&user.customer_id)
            .bind(&user.merchant_id)
            .bind(user.created_at)
            .execute(conn)
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

    /// The accounts a staff page lists, by email (at most `limit`).
    pub async fn list(db: &Db, limit: i64) -> Result<Vec<User>> {
        let sql = format!("{SELECT_USER} ORDER BY email LIMIT $1");
        let rows: Vec<UserRow> =
            with_db!(db, pool => sqlx::query_as(&sql).bind(limit).fetch_all(pool).await)?;
        rows.into_iter().map(|r| r.into_user().map(|(u, _)| u)).collect()
    }

    /// A merchant's API logins, by email.
    pub async fn of_merchant(db: &Db, merchant: &MerchantId) -> Result<Vec<User>> {
        let sql = format!("{SELECT_USER} WHERE merchant_id = $1 ORDER BY email");
        let rows: Vec<UserRow> =
            with_db!(db, pool => sqlx::query_as(&sql).bind(merchant).fetch_all(pool).await)?;
        rows.into_iter().map(|r| r.into_user().map(|(u, _)| u)).collect()
    }

    /// Marks the account disabled inside `tx`; `false` if it already was (or doesn't exist).
    pub(crate) async fn mark_disabled_in(tx: &mut Tx, id: &UserId) -> Result<bool> {
        let sql = "UPDATE users SET disabled_at = $2 WHERE id = $1 AND disabled_at IS NULL";
        let updated = with_tx!(tx, conn => sqlx::query(sql)
            .bind(id)
            .bind(Utc::now())
            .execute(conn)
            .await
            .map(|r| r.rows_affected()))?;
        Ok(updated > 0)
    }

    /// Whether any account exists yet (demo data loads only into an empty database).
    pub async fn any_exist(db: &Db) -> Result<bool> {
        let count: i64 = with_db!(db, pool => sqlx::query_scalar("SELECT COUNT(*) FROM users")
            .fetch_one(pool)
            .await)?;
        Ok(count > 0)
    }
}
