//! What the customer pages share on the server side: the customer's own policies and payments
//! through the core's access rule (anyone else's look like nothing at all), the payment already under way on a policy, and
//! what a customer is told when a payment can't be started.

use serde::{Deserialize, Serialize};

#[cfg(feature = "ssr")]
use crate::PageError;

/// What a payment still under way on a policy is waiting for: decides what the customer is
/// told and offered.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Underway {
    /// The customer's bank wants them to confirm it (3-D Secure).
    BankCheck,
    /// The customer was sent to a gateway's payment page and hasn't finished there.
    PaymentPage,
    /// An invoice waits to be paid by bank transfer.
    Invoice,
    /// Sent to the gateway, or paid and being activated: only the gateway's answer settles it.
    Answer,
}

impl Underway {
    /// What the payment is waiting for, for a state that is not final.
    #[cfg(feature = "ssr")]
    pub fn of(state: settle::payment::PaymentState) -> Underway {
        use settle::payment::PaymentState;
        match state {
            PaymentState::Payment3dAuth => Underway::BankCheck,
            PaymentState::AwaitingCustomer => Underway::PaymentPage,
            PaymentState::Invoiced => Underway::Invoice,
            _ => Underway::Answer,
        }
    }
}

/// A payment of a policy that is not final yet.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OpenPayment {
    /// Its reference (its status page's address).
    pub reference: String,
    /// What it waits for.
    pub underway: Underway,
    /// Its state in words ("Processing").
    pub label: String,
}

/// What a customer is told when a payment for the same policy is already under way: the
/// status page of that payment follows, so the customer sees where it stands.
pub const ALREADY_UNDER_WAY: &str = "You already have a payment under way for this policy, so we didn't start another. Here is where it stands — you won't be charged twice.";

/// The same, as the flash message on that payment's status page.
#[cfg(feature = "ssr")]
pub fn in_progress_flash() -> crate::flash::Flash {
    crate::flash::Flash::notice(ALREADY_UNDER_WAY)
}

/// What may be paid on the customer's policy with this number (the core's access rule decides),
/// or `None` if there is none or it isn't theirs (the two look the same, so nobody learns other
/// customers' policy numbers).
#[cfg(feature = "ssr")]
pub async fn policy_offer(
    ctx: &crate::PageContext,
    viewer: &settle::access::Viewer,
    reference: &str,
) -> Result<Option<settle::checkout::Offer>, PageError> {
    if !plausible_reference(reference.trim()) {
        return Ok(None);
    }
    match settle::checkout::policy(&ctx.db, viewer, reference.trim()).await {
        Ok(offer) => Ok(Some(offer)),
        Err(settle::Error::NotFound(_)) => Ok(None),
        Err(e) => Err(PageError::logged("loading the policy")(e)),
    }
}

/// The customer's payment with this reference and the service it pays (the core's access rule
/// decides), or `None` if there is none or it isn't theirs. With `ask_gateway`, a payment still
/// open at its gateway is asked about first; if the gateway can't be reached, what is stored is
/// shown (still right; the next look asks again).
#[cfg(feature = "ssr")]
pub async fn own_payment(
    ctx: &crate::PageContext,
    viewer: &settle::access::Viewer,
    reference: &str,
    ask_gateway: bool,
) -> Result<Option<settle::checkout::Outcome>, PageError> {
    if !plausible_reference(reference.trim()) {
        return Ok(None);
    }
    let reference = reference.trim();
    let found = if ask_gateway {
        match settle::checkout::outcome(&ctx.payments, viewer, reference, true).await {
            Err(e) if !matches!(e, settle::Error::NotFound(_)) => {
                tracing::warn!(payment = %reference, error = %e, "status refresh failed");
                settle::checkout::payment_for(&ctx.db, viewer, reference).await
            }
            other => other,
        }
    } else {
        settle::checkout::payment_for(&ctx.db, viewer, reference).await
    };
    match found {
        Ok(outcome) => Ok(Some(outcome)),
        Err(settle::Error::NotFound(_)) => Ok(None),
        Err(e) => Err(PageError::logged("loading the payment")(e)),
    }
}

impl OpenPayment {
    /// The attempt under way on a purchase, as the pages describe it.
    #[cfg(feature = "ssr")]
    pub fn of(payment: &settle::payment::Payment) -> OpenPayment {
        OpenPayment {
            underway: Underway::of(payment.state),
            label: payment.state.label().to_owned(),
            reference: payment.reference.clone(),
        }
    }
}

/// The payment of `purchase` that is not final yet, if there is one.
#[cfg(feature = "ssr")]
pub async fn open_payment(
    ctx: &crate::PageContext,
    purchase: &settle::purchase::PurchaseId,
) -> Result<Option<OpenPayment>, PageError> {
    let open = settle::payment::Payment::open_for_purchase(&ctx.db, purchase)
        .await
        .map_err(PageError::logged("loading payments"))?;
    Ok(open.first().map(OpenPayment::of))
}

/// Whether `reference` could name a policy or payment at all: no reference is empty, very long
/// or holds control characters (PostgreSQL refuses NUL in text, which would be a 500, not the
/// 404 it is).
#[cfg(feature = "ssr")]
fn plausible_reference(reference: &str) -> bool {
    !reference.is_empty() && reference.len() <= 200 && !reference.chars().any(char::is_control)
}

/// The access rule's view of a signed-in user.
#[cfg(feature = "ssr")]
pub fn payer(user: &settle::account::User) -> Result<settle::access::Viewer, PageError> {
    settle::access::Viewer::of_user(user)
        .map_err(|_| PageError::forbidden("Your account has no customer record."))
}

/// What to tell the customer when a payment could not be started.
#[cfg(feature = "ssr")]
pub fn start_error_message(e: &settle::Error) -> String {
    match e {
        settle::Error::Conflict(_) => "There is nothing to pay on this policy any more: it may \
            have just been paid. Your account shows where it stands."
            .into(),
        settle::Error::Validation(fields) => {
            let problems: Vec<String> =
                fields.iter().map(|f| format!("{}: {}", f.field, f.message)).collect();
            format!("The payment was refused: {}.", problems.join("; "))
        }
        settle::Error::NotFound(what) => format!("The {what} could not be found."),
        settle::Error::PaymentInProgress(_) => ALREADY_UNDER_WAY.into(),
        other => {
            tracing::error!(error = %other, "starting a payment failed");
            "Payments are unavailable right now. Nothing was charged; please try again in a few minutes."
                .into()
        }
    }
}

#[cfg(all(test, feature = "ssr"))]
mod tests {
    use settle::payment::PaymentState;

    use super::*;

    #[test]
    fn what_an_open_payment_waits_for() {
        assert_eq!(Underway::of(PaymentState::Payment3dAuth), Underway::BankCheck);
        assert_eq!(Underway::of(PaymentState::AwaitingCustomer), Underway::PaymentPage);
        assert_eq!(Underway::of(PaymentState::Invoiced), Underway::Invoice);
        assert_eq!(Underway::of(PaymentState::Processing), Underway::Answer);
        assert_eq!(Underway::of(PaymentState::ConvertingPolicy), Underway::Answer);
    }

    #[test]
    fn every_refusal_has_a_sentence_without_internals() {
        let e = settle::Error::PaymentInProgress("PAY-1".into());
        assert_eq!(start_error_message(&e), ALREADY_UNDER_WAY);
        let e = settle::Error::Internal("db exploded at 10.0.0.3".into());
        assert!(!start_error_message(&e).contains("10.0.0.3"));
    }
}
