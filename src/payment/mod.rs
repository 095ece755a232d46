//! Payments: one attempt to collect a purchase through a gateway.

pub mod state;

pub use state::PaymentState;
