//! What operators do to accounts: open them (admins, operators, customers with their customer
//! record) and disable them. Every change is written to the audit log in its own transaction.

use crate::account::user::User;
use crate::account::{Email, NewUser, Password, Role, UserId};
use crate::audit::{self, Actor};
use crate::customer::{Customer, CustomerCode};
use crate::db::Db;
use crate::error::{Error, FieldError, Result};

/// What an operator enters to open an account.
#[derive(Debug)]
pub struct UserEntry {
    /// `customer`, `admin` or `operator` (merchant API logins are opened on their merchant).
    pub role: String,
    /// The login email.
    pub email: String,
    /// How pages greet them (the email when empty).
    pub display_name: String,
    /// The first password, told to them out of band.
    pub password: String,
    /// For customers: the code merchants know them by (generated when empty).
    pub customer_code: String,
}

/// Checks an entry: every problem, each under its form field.
fn check(entry: &UserEntry) -> Result<(Role, Email, Password, Option<CustomerCode>)> {
    let mut errors: Vec<FieldError> = Vec::new();
    let role = match entry.role.parse::<Role>() {
        Ok(Role::MerchantApi) => {
            errors.push(FieldError::new(
                "role",
                "can't be a merchant's API login here: open those on the merchant's page",
            ));
            None
        }
        Ok(role) => Some(role),
        Err(_) => {
            errors.push(FieldError::new("role", "must be customer, admin or operator"));
            None
        }
    };
    let email = Email::parse(&entry.email).map_err(|e| errors.push(e.at("email"))).ok();
    let password = Password::new_secret(entry.password.clone())
        .map_err(|e| errors.push(e.at("password")))
        .ok();
    let code = match (role, entry.customer_code.trim()) {
        (Some(Role::Customer), "") => {
            Some(CustomerCode::parse(&generated_code()).map_err(|e| {
                Error::Internal(format!("a generated customer code is invalid: {e}"))
            })?)
        }
        (Some(Role::Customer), code) => {
            CustomerCode::parse(code).map_err(|e| errors.push(e.at("customer_code"))).ok()
        }
        (_, "") => None,
        (_, _) => {
            errors.push(FieldError::new("customer_code", "is only for customer accounts"));
            None
        }
    };
    match (role, email, password, errors.is_empty()) {
        (Some(role), Some(email), Some(password), true) => Ok((role, email, password, code)),
        _ => Err(Error::Validation(errors)),
    }
}

fn generated_code() -> String {
    format!("CUST-{}", &uuid::Uuid::new_v4().simple().to_string()[..8].to_uppercase())
}

/// Opens an account for `entry`; a customer gets their customer record in the same
/// transaction. Audited as `user.create`.
pub async fn create_user(db: &Db, actor: &Actor, entry: UserEntry) -> Result<User> {
    let (role, email, password, code) = check(&entry)?;
    let name = match entry.display_name.trim() {
        "" => email.to_string(),
        name => name.to_owned(),
    };
    // Hashed before the transaction: hashing takes tens of milliseconds.
    let mut prepared = User::prepare(
        NewUser {
            email: email.clone(),
            display_name: name.clone(),
            role,
            password,
            // Filled in below, in the transaction; a placeholder passes the role check.
            customer_id: code.as_ref().map(|_| crate::customer::CustomerId::from_string("")),
        },
        None,
    )
    .await?;
    let mut tx = db.begin().await?;
    let mut detail = format!("opened a {role} account for {email}");
    if let Some(code) = &code {
        let customer = Customer::create_in(&mut tx, code, &name, email.as_str()).await?;
        detail.push_str(&format!(" with customer record {}", customer.code));
        prepared.set_customer(customer.id);
    }
    let user = User::insert_in(&mut tx, prepared).await.map_err(taken_email)?;
    audit::record_in(&mut tx, actor, "user.create", &format!("user:{}", user.id), &detail).await?;
    tx.commit().await?;
    Ok(user)
}

/// Opens a merchant's API login (role `merchant_api`) for `merchant`. Audited as
/// `merchant.api_user.create`.
pub async fn create_merchant_api_user(
    db: &Db,
    actor: &Actor,
    merchant: &crate::merchant::Merchant,
    email: &str,
    display_name: &str,
    password: String,
) -> Result<User> {
    let mut errors = Vec::new();
    let email = Email::parse(email).map_err(|e| errors.push(e.at("email"))).ok();
    let password = Password::new_secret(password).map_err(|e| errors.push(e.at("password"))).ok();
    let (Some(email), Some(password)) = (email, password) else {
        return Err(Error::Validation(errors));
    };
    let name = match display_name.trim() {
        "" => format!("{} API", merchant.name),
        name => name.to_owned(),
    };
    let new = NewUser {
        email: email.clone(),
        display_name: name,
        role: Role::MerchantApi,
        password,
        customer_id: None,
    };
    let prepared = User::prepare(new, Some(merchant.id.clone())).await?;
    let mut tx = db.begin().await?;
    let user = User::insert_in(&mut tx, prepared).await.map_err(taken_email)?;
    let detail = format!("opened API login {email} for merchant {}", merchant.client_id);
    audit::record_in(
        &mut tx,
        actor,
        "merchant.api_user.create",
        &format!("merchant:{}", merchant.id),
        &detail,
    )
    .await?;
    tx.commit().await?;
    Ok(user)
}

/// A taken email is the email field's problem, in words.
fn taken_email(e: Error) -> Error {
    match e {
        Error::Conflict(_) => Error::invalid("email", "already has an account"),
        other => other,
    }
}

/// Disables an account: it can't log in any more, its API tokens are deleted in the same
/// transaction and its sessions end on their next request. Nobody disables themselves.
/// Audited as `user.disable`.
pub async fn disable_user(db: &Db, actor: &Actor, id: &UserId) -> Result<User> {
    if actor.user_id.as_ref() == Some(id) {
        return Err(Error::invalid("user", "is you: another operator must disable your account"));
    }
    let user = User::find(db, id).await?.ok_or(Error::NotFound("user"))?;
    let mut tx = db.begin().await?;
    if !User::mark_disabled_in(&mut tx, id).await? {
        return Err(Error::Conflict(format!("{} is already disabled", user.email)));
    }
    let tokens = crate::api_token::revoke_user_in(&mut tx, id).await?;
    let detail = format!("disabled {} ({}); {tokens} API tokens revoked", user.email, user.role);
    audit::record_in(&mut tx, actor, "user.disable", &format!("user:{id}"), &detail).await?;
    tx.commit().await?;
    User::find(db, id).await?.ok_or(Error::NotFound("user"))
}
