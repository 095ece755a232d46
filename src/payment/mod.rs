//! Payments: one attempt to collect a purchase through a gateway.
//!
//! `state` is the state machine, `transition` the only code that changes a stored payment's
//! state (with its event, in one transaction), `orchestrator` the attempt protocol every entry
//! point follows (split by what reaches it: `start`, `outcome`, `callback`, `reconcile`,
//! `refund`), `fulfilment` what success sets off, `saved_card` the card a checkout keeps.

pub mod callback;
pub mod event;
pub mod fulfilment;
mod in_flight;
pub mod orchestrator;
pub mod outcome;
pub mod reconcile;
pub mod record;
pub mod refund;
pub mod return_to;
pub mod saved_card;
pub mod search;
mod send;
pub mod staff;
pub mod start;
pub mod state;
pub mod timeline;
pub mod transition;

pub use callback::{ChallengeOutcome, NotificationOutcome};
pub use orchestrator::Orchestrator;
pub use reconcile::SweepReport;
pub use record::{CardSummary, Channel, Payment, PaymentId};
pub use return_to::ReturnTo;
pub use start::{Instrument, PaymentRequest};
pub use state::PaymentState;
pub use transition::Change;
