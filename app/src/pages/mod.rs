//! The pages, by role: the folder is the URL prefix, the role the server's guard requires, and
//! the prefix of the server functions its pages post to.
//!
//! - public: [`home`] (`/`), [`login`] (`/login`), [`not_found`], [`not_allowed`] (403)
//! - the customer: [`account`] — `/account`, server functions under `/account/api`
//! - admins: [`admin`] — `/admin`, `/admin/api`
//! - operators: [`operator`] — `/operator`, `/operator/api`

pub mod account;
pub mod admin;
pub mod home;
pub mod login;
pub mod not_allowed;
pub mod not_found;
pub mod operator;
