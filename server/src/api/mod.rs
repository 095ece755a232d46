//! REST APIs for merchant systems and operations (bearer tokens, JSON).

pub mod bearer;
pub mod health;
pub mod oauth;
