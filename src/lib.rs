//! Settle's orchestration core: domain types, use cases, storage and connectors.
//!
//! Nothing here knows about HTTP servers or pages; `settle-server` and `settle-app` call into
//! this crate, never the other way round.

pub mod access;
pub mod account;
pub mod address;
pub mod api_token;
pub mod audit;
pub mod billing;
pub mod card;
pub mod checkout;
pub mod collector;
pub mod connector;
pub mod customer;
pub mod db;
pub mod demo;
pub mod document;
pub mod error;
pub mod gateway;
pub mod gateway_config;
pub mod iban;
pub mod id;
pub mod idempotency;
pub mod job;
pub mod ledger;
pub mod merchant;
pub mod money;
pub mod notify;
pub mod oauth;
pub mod payment;
pub mod payment_method;
pub mod product;
pub mod product_config;
pub mod purchase;
pub mod purchase_source;
pub mod redact;
pub mod secret;
pub mod service;
pub mod service_standing;
pub mod stats;
pub mod tax;
pub mod telemetry;
pub mod text_enum;
pub mod webhook;

pub use db::Db;
pub use error::{Error, FieldError, Result};
