//! People who log in: customers, admins and operators.

pub mod email;
pub mod login;
pub mod manage;
pub mod password;
pub mod role;
pub mod throttle;
pub mod user;

pub use email::Email;
pub use login::{LoginOutcome, log_in};
pub use password::Password;
pub use role::Role;
pub use user::{NewUser, User, UserId};
