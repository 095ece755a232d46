//! One module per page.

pub mod account;
pub mod admin;
pub mod card_payment;
pub mod checkout;
pub mod home;
pub mod login;
pub mod not_found;
pub mod operator;
pub mod payment_status;
