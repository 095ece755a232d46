//! A payment's pages, under `/account/payments/{reference}`: where it stands ([`status`]) and
//! the bank's 3-D Secure check with its frame and Settle's own end of it ([`challenge`]).

pub mod challenge;
pub mod status;
