//! Bookings: a purchase a merchant's system books for one of its customers and has paid at once,
//! by a saved method, a new bank account (direct-debit mandate) or the gateway's hosted page
//! (the orders of a membership or campaign system).
//!
//! The rules, once for every entry point:
//! - A merchant's bookings are for its *order product* ([`Merchant::order_product`]): one
//!   product per merchant, whose price the merchant sets per booking; the campaign code is kept
//!   with the purchase (for totals), it doesn't choose the product. A merchant without an order
//!   product takes no bookings.
//! - The customer, the way to pay and the way back are checked before anything is stored, and
//!   all their errors are answered together; the purchase is then made by
//!   [`billing::create_purchase`] (its pricing rule checks the amount and description) and paid
//!   through [`pay`] — the orchestrator moves the money. A payment that fails at once (a declined
//!   card, a gateway that can't take it) withdraws the order: nothing is left owed for it.
//! - A saved method must be the customer's own and still usable. A new bank account gets a
//!   mandate at the product's direct-debit gateway and becomes a payment method, `incomplete`
//!   until its first collection settles ([`crate::payment_method::record_collection`]); a bank that
//!   refuses the mandate cancels the purchase. A hosted page goes through the product's first
//!   gateway with a page, and its way back must be on an origin the merchant registered.

use url::Url;

use crate::access::{self, Viewer};
use crate::billing::{self, LineAmount, NewPurchase, NewPurchaseLine, ServiceChoice};
use crate::checkout::hosted::{has_payment_page, hosted_form};
use crate::checkout::{Method, PayRequest, ReturnTo, pay};
use crate::connector::{ConnectorError, HostedForm};
use crate::customer::Customer;
use crate::error::{Error, FieldError, Result};
use crate::gateway::{Gateway, GatewayKind};
use crate::iban::Iban;
use crate::merchant::Merchant;
use crate::payment::{Orchestrator, Payment, PaymentState};
use crate::payment_method::{MethodNumber, MethodStatus, PaymentMethod};
use crate::product::Product;
use crate::purchase::Purchase;

/// How a booking is paid.
#[derive(Clone, Debug)]
pub enum BookingPayment {
    /// One of the customer's saved methods, by its number.
    SavedMethod(MethodNumber),
    /// A new bank account, collected by direct debit under a new mandate.
    BankAccount(Iban),
    /// The gateway's hosted page; the customer comes back by this rule.
    HostedPage(ReturnTo),
}

/// A booking as the merchant asks for it.
#[derive(Clone, Debug)]
pub struct NewBooking {
    /// The merchant's code for the customer.
    pub customer_code: String,
    /// What is booked (the purchase line's description).
    pub description: String,
    /// The amount, tax included, in minor units of the order product's currency.
    pub amount_minor: i64,
    /// The campaign the booking belongs to.
    pub campaign: String,
    /// How it is paid.
    pub payment: BookingPayment,
    /// The caller's scoped idempotency key, for the payment.
    pub idempotency_key: Option<String>,
}

/// A booking made: its purchase, the payment started, the method it used (if one is saved)
/// and, for a hosted page, the form that takes the customer's browser there.
#[derive(Clone, Debug)]
pub struct Booking {
    /// What is owed.
    pub purchase: Purchase,
    /// The attempt to pay it.
    pub payment: Payment,
    /// The saved method the payment used (a hosted page has none yet).
    pub method: Option<PaymentMethod>,
    /// The form to post to reach the gateway's page (hosted page only).
    pub form: Option<HostedForm>,
}

/// Where the payment goes, once checked.
enum Route {
    Saved(PaymentMethod),
    NewMandate { iban: Iban, gateway: Gateway },
    Page { rule: ReturnTo, gateway: Gateway },
}

/// Books a purchase for one of the merchant's customers and starts paying it (see the module's
/// rules). A payment that fails at once withdraws the order: a declined card is a validation
/// error on the method, a gateway that could not take it an internal error (nothing was taken
/// either way).
pub async fn book(payments: &Orchestrator, viewer: &Viewer, new: NewBooking) -> Result<Booking> {
    let db = payments.db();
    let merchant_id = access::merchant_system(viewer)?;
    let merchant = Merchant::find(db, merchant_id).await?.ok_or(Error::NotFound("merchant"))?;
    let product = Merchant::order_product(db, &merchant.id).await?.ok_or_else(|| {
        Error::Conflict("this merchant has no order product, so it takes no orders".into())
    })?;
    let gateways = Gateway::for_product(db, &product.id).await?;

    let mut errors = Vec::new();
    let customer = match access::customer_by_code(db, viewer, &new.customer_code).await {
        Ok(customer) => Some(customer),
        Err(Error::NotFound(_)) => {
            errors.push(FieldError::new("customer_code", "is not one of your customers"));
            None
        }
        Err(e) => return Err(e),
    };
    let route =
        match route(db, &merchant, &product, &gateways, customer.as_ref(), new.payment).await? {
            Ok(route) => Some(route),
            Err(e) => {
                errors.push(e);
                None
            }
        };
    let (Some(customer), Some(route), true) = (customer, route, errors.is_empty()) else {
        return Err(Error::Validation(errors));
    };

    let (purchase, _) = billing::create_purchase(
        db,
        &merchant.id,
        NewPurchase {
            customer_code: customer.code.clone(),
            service: ServiceChoice::ForProduct { product_code: product.code.clone() },
            lines: vec![NewPurchaseLine {
                description: new.description,
                quantity: 1,
                amount: Some(LineAmount::Minor(new.amount_minor)),
            }],
            merchant_reference: None,
            campaign: Some(new.campaign),
            details: serde_json::json!({}),
        },
    )
    .await
    .map_err(one_line)?;

    let (method, gateway, how, return_to) = match route {
        Route::Saved(method) => {
            let gateway = method.gateway_id.clone().unwrap_or_default();
            let how = Method::SavedMethod(method.id.clone());
            (Some(method), gateway, how, None)
        }
        Route::NewMandate { iban, gateway } => {
            let method = match mandate(payments, &customer, &gateway, &iban).await {
                Ok(method) => method,
                Err(e) => {
                    // Nothing can pay this purchase now: it is withdrawn, not left owed.
                    billing::cancel_purchase(db, viewer, &purchase.id).await?;
                    return Err(e);
                }
            };
            let how = Method::SavedMethod(method.id.clone());
            (Some(method), gateway.id, how, None)
        }
        Route::Page { rule, gateway } => {
            (None, gateway.id, Method::HostedPage { save_card: false }, Some(rule))
        }
    };
    let started = pay(
        payments,
        PayRequest {
            payer: viewer.clone(),
            purchase_id: purchase.id.clone(),
            gateways: vec![gateway],
            method: how,
            return_to,
            details: serde_json::json!({}),
            idempotency_key: new.idempotency_key,
        },
    )
    .await?;
    let payment = started.payment;
    if matches!(payment.state, PaymentState::PaymentFailed | PaymentState::TerminalError) {
        // Nothing was taken and nothing else will pay it: the order is withdrawn, not owed.
        billing::cancel_purchase(db, viewer, &purchase.id).await?;
        let reason = payment.failure_reason.clone().unwrap_or_else(|| "was declined".into());
        return Err(if payment.state == PaymentState::PaymentFailed {
            Error::invalid("payment_method", reason)
        } else {
            Error::Internal(format!("order payment {}: {reason}", payment.reference))
        });
    }
    let form = if payment.state == PaymentState::AwaitingCustomer {
        match hosted_form(db, &payment).await? {
            Some(form) => Some(form),
            None => payment.redirect_url.as_deref().and_then(form_for_redirect),
        }
    } else {
        None
    };
    let method = match method {
        Some(m) => PaymentMethod::find(db, &m.id).await?,
        None => None,
    };
    let purchase = Purchase::find(db, &purchase.id).await?.unwrap_or(purchase);
    Ok(Booking { purchase, payment, method, form })
}

/// Checks the way to pay: `Ok(Err(..))` is the client's mistake, to answer with the others.
async fn route(
    db: &crate::db::Db,
    merchant: &Merchant,
    product: &Product,
    gateways: &[Gateway],
    customer: Option<&Customer>,
    payment: BookingPayment,
) -> Result<Result<Route, FieldError>> {
    let first = |kind: &dyn Fn(&Gateway) -> bool, what: &str| {
        gateways.iter().find(|g| kind(g)).cloned().ok_or_else(|| {
            Error::Conflict(format!("the order product {} offers no {what} gateway", product.code))
        })
    };
    Ok(match payment {
        BookingPayment::SavedMethod(number) => {
            let found = PaymentMethod::find_by_number(db, number).await?;
            let owned =
                found.filter(|m| customer.is_some_and(|c| m.customer_id.as_ref() == Some(&c.id)));
            match owned {
                None => Err(FieldError::new("payment_method", "is not a method of this customer")),
                Some(m) if matches!(m.status, MethodStatus::Invalid | MethodStatus::Expired) => {
                    Err(FieldError::new("payment_method", "is inactive"))
                }
                Some(m) if !gateways.iter().any(|g| m.gateway_id.as_deref() == Some(&g.id)) => {
                    Err(FieldError::new("payment_method", "can't pay this merchant's orders"))
                }
                Some(m) => Ok(Route::Saved(m)),
            }
        }
        BookingPayment::BankAccount(iban) => {
            let gateway = first(&|g| g.kind == GatewayKind::DirectDebit, "direct-debit")?;
            Ok(Route::NewMandate { iban, gateway })
        }
        BookingPayment::HostedPage(rule) => {
            match crate::checkout::return_to::check(rule, merchant, "return_to") {
                Ok(rule) => {
                    let gateway = first(&has_payment_page, "hosted-page")?;
                    Ok(Route::Page { rule, gateway })
                }
                Err(e) => Err(e),
            }
        }
    })
}

/// A mandate for the account at the bank, kept as the customer's new payment method.
async fn mandate(
    payments: &Orchestrator,
    customer: &Customer,
    gateway: &Gateway,
    iban: &Iban,
) -> Result<PaymentMethod> {
    let bank = payments.connector(&gateway.id)?;
    let mandate = match bank.create_mandate(iban, &customer.name, &customer.code).await {
        Ok(mandate) => mandate,
        Err(ConnectorError::Refused { .. }) => {
            return Err(Error::invalid("iban", "the bank refused a direct-debit mandate for it"));
        }
        Err(e) => return Err(Error::Internal(format!("mandate at {}: {e}", gateway.id))),
    };
    PaymentMethod::bank_account(customer.id.clone(), iban, &gateway.id, mandate.mandate_id)
        .store(payments.db())
        .await
}

/// A gateway page reached by a plain redirect, as a form to post: the URL without its query as
/// the action, its query as the fields (the gateway takes either).
fn form_for_redirect(redirect: &str) -> Option<HostedForm> {
    let url = Url::parse(redirect).ok()?;
    let fields = url.query_pairs().into_owned().collect();
    let mut action = url;
    action.set_query(None);
    Some(HostedForm { action: action.to_string(), fields })
}

/// The purchase's one line named as the booking's own fields (`amount`, `description`).
fn one_line(error: Error) -> Error {
    match error {
        Error::Validation(errors) => Error::Validation(
            errors
                .into_iter()
                .map(|e| match e.field.strip_prefix("lines[0].") {
                    Some(field) => FieldError::new(field.to_owned(), e.message),
                    None => e,
                })
                .collect(),
        ),
        Error::NotFound("customer") => {
            Error::invalid("customer_code", "is not one of your customers")
        }
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_redirect_becomes_a_form_with_its_query_as_fields() {
        let form = form_for_redirect("http://gw.test/pay/co_1?lang=en&x=1").unwrap();
        assert_eq!(form.action, "http://gw.test/pay/co_1");
        assert_eq!(form.fields, vec![("lang".into(), "en".into()), ("x".into(), "1".into())]);
        assert!(form_for_redirect("not a url").is_none());
    }

    #[test]
    fn the_single_line_speaks_for_the_booking() {
        let e = one_line(Error::Validation(vec![FieldError::new("lines[0].amount", "bad")]));
        match e {
            Error::Validation(errors) => assert_eq!(errors[0].field, "amount"),
            other => panic!("{other:?}"),
        }
    }
}
