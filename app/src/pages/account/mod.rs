//! The customer's pages, all under `/account` (the customer role), and the server functions
//! they post to, all under `/account/api`.
//!
//! | page | module |
//! |---|---|
//! | `/account`: policies and services, what is due | [`home`] |
//! | `/account/checkout?policy=…`: what is bought, how to pay | [`checkout`] |
//! | `/account/checkout/card?policy=…`: card details | [`checkout::card`] (posting to [`checkout::card_pay`]) |
//! | `/account/invoices/{invoiceId}`: an invoice and the ways to pay it | [`invoices`] (posting to [`invoices::pay`]) |
//! | `/account/payments/{reference}`: where a payment stands | [`payments::status`] |
//! | `/account/payments/{reference}/challenge` (+ `/frame`, `/complete`): the bank's check | [`payments::challenge`] |
//! | `/account/services/{serviceId}/pay`: pay what an ISP service owes | [`services::pay`] |
//! | `/account/services/{serviceId}/buy` (+ `/{purchaseId}`, paying the quote): buy ahead | [`services::buy`] |
//! | `/account/services/{serviceId}/pay/{purchaseId}/{1\|0}`: the result of paying it | [`services::result`] |
//! | `/account/payment-methods`: mediums, each service's active one | [`payment_methods`] |
//! | `/account/payment-methods/{mediumId}/update`: update a saved card | [`payment_methods::update`] |
//!
//! The folders follow the addresses. [`shared`] holds what they share on the server side.

pub mod checkout;
pub mod home;
pub mod invoices;
pub mod payment_methods;
pub mod payments;
pub mod services;
pub mod shared;
