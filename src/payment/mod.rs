//! Payments: one attempt to collect a purchase through a gateway.
//!
//! `state` is the state machine, `transition` the only code that changes a stored payment's
//! state (with its event, in one transaction), `fulfilment` what success sets off.

pub mod event;
pub mod fulfilment;
pub mod orchestrator;
pub mod record;
pub mod state;
pub mod transition;

pub use orchestrator::{Instrument, Orchestrator, PaymentRequest};
pub use record::{CardSummary, Payment, PaymentId};
pub use state::PaymentState;
pub use transition::Change;
