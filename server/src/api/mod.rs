//! REST APIs for merchant systems and operations (bearer tokens, JSON).

pub mod bearer;
pub mod callbacks;
pub mod documents;
pub mod fallback;
pub mod health;
pub mod idempotency;
pub mod insurance_checkout;
pub mod json;
pub mod oauth;
pub mod payments;
pub mod quote_payments;
