//! REST APIs for merchant systems and operations (bearer tokens, JSON).

pub mod bearer;
pub mod callbacks;
pub mod health;
pub mod idempotency;
pub mod oauth;
pub mod payments;
