//! The bank's 3-D Secure check of a card payment started on Settle's card page.
//!
//! - `/account/payments/{reference}/challenge` shows the bank's pages in an `<iframe>` of
//!   `/account/payments/{reference}/challenge/frame`, which holds seed 003's form (`creq`,
//!   `threeDSSessionData`, posted to `acsurl`). The one next step is in the frame ("Continue to
//!   your bank", pressed by `/3ds.js` when script runs); a plain link under the frame leads to the
//!   status page for whoever needs it.
//! - `/account/payments/{reference}/challenge/complete` is Settle's own end of the check inside
//!   the frame: the bank's pages end at the payment's challenge return, which sends payments
//!   started on these pages here (API clients get the document's blank `PaymentComplete` page).
//!   It says how the check went ("Payment authenticated — continue") and links out of the frame
//!   (`target="_top"`) to the status page; with script, `/3ds.js` moves on by itself.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_params_map;
use serde::{Deserialize, Serialize};
use settle::account::Role;

use crate::PageError;
use crate::components::{ErrorBox, PageData, SubmitButton};
use crate::layout::Layout;
use crate::links::{challenge_frame_href, status_href};

/// Where a payment's bank check stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum CheckStage {
    /// The bank is waiting for the customer.
    Pending,
    /// The bank confirmed it is the customer; the payment went through.
    Authenticated,
    /// The bank or the card issuer refused the payment.
    Refused,
    /// Over, the outcome not known yet (the acquirer is still answering).
    Checking,
    /// Over another way (cancelled, timed out, failed).
    Over,
}

/// What the challenge page and its frame need: the pending 3-D Secure challenge.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ChallengeView {
    /// The payment reference.
    pub reference: String,
    /// The amount ("GBP 51.34").
    pub amount: String,
    /// The policy number.
    pub policy: String,
    /// Where the check stands.
    pub stage: CheckStage,
    /// The issuer's page (`acsurl`), while the challenge is pending.
    pub acs_url: Option<String>,
    /// The challenge request (`creq`).
    pub creq: Option<String>,
    /// `threeDSSessionData`.
    pub session_data: Option<String>,
}

/// The customer's pending challenge. With `leave_when_done`, a payment no longer waiting for
/// its challenge sends the browser to its status page instead.
#[server(prefix = "/account/api", endpoint = "challenge")]
pub async fn load_challenge(
    reference: String,
    leave_when_done: bool,
) -> Result<ChallengeView, PageError> {
    use settle::payment::PaymentState;

    use crate::error::NO_SUCH_PAYMENT;
    use crate::pages::account::shared::{own_payment, payer};

    let user = crate::auth::require(Role::Customer)?;
    let ctx = crate::context::page_context()?;
    let settle::checkout::Outcome { payment, service } =
        own_payment(&ctx, &payer(&user)?, &reference, false)
            .await?
            .ok_or_else(|| PageError::not_found(NO_SUCH_PAYMENT))?;
    let challenge =
        payment.three_ds.clone().filter(|_| payment.state == PaymentState::Payment3dAuth);
    if challenge.is_none() && leave_when_done {
        leptos_axum::redirect(&status_href(&payment.reference));
    }
    let stage = match payment.state {
        PaymentState::Payment3dAuth => CheckStage::Pending,
        s if s.money_moved() => CheckStage::Authenticated,
        PaymentState::PaymentFailed => CheckStage::Refused,
        s if !s.is_final() => CheckStage::Checking,
        _ => CheckStage::Over,
    };
    Ok(ChallengeView {
        reference: payment.reference.clone(),
        amount: payment.amount.display().to_string(),
        policy: service.reference,
        stage,
        acs_url: challenge.as_ref().map(|c| c.acs_url.clone()),
        creq: challenge.as_ref().map(|c| c.creq.clone()),
        session_data: challenge.map(|c| c.session_data),
    })
}

/// The page that shows the bank's check in a frame.
#[component]
pub fn ChallengePage() -> impl IntoView {
    let reference = use_params_map().with_untracked(|p| p.get("reference")).unwrap_or_default();
    view! {
        <Layout title="Confirm with your bank".into()>
            <PageData heading="Confirm with your bank" load=load_challenge(reference, true) let:view>
                <Challenge view />
            </PageData>
        </Layout>
    }
}

#[component]
fn Challenge(view: ChallengeView) -> impl IntoView {
    let status = status_href(&view.reference);
    view! {
        <h1>"Confirm the payment with your bank"</h1>
        <p class="lead">
            "Your bank wants to make sure it is really you paying " <strong class="amount">{view.amount}</strong>
            " for policy " <code class="reference">{view.policy}</code> ". Follow its steps in the box below."
        </p>
        <div class="challenge">
            <iframe
                src=challenge_frame_href(&view.reference)
                title="Your bank's security check"
                name="three-ds-challenge"
                data-status-url=status.clone()
            ></iframe>
        </div>
        <p class="challenge-done muted">
            "When your bank says you're done: "
            <a id="challenge-done" href=status>"show my payment"</a>
            "."
        </p>
        <script src="/3ds.js" defer></script>
    }
}

/// The small page inside the challenge frame: seed 003's form that takes the browser to the
/// issuer's page (`acsurl`) with `creq` and `threeDSSessionData`; once the check is over, the
/// same words as the completion page.
#[component]
pub fn ChallengeFramePage() -> impl IntoView {
    let reference = use_params_map().with_untracked(|p| p.get("reference")).unwrap_or_default();
    view! {
        <FrameDocument title="Your bank's check">
            <FrameData load=load_challenge(reference, false) pending=true />
        </FrameDocument>
    }
}

/// Settle's own end of the bank's check, inside the frame.
#[component]
pub fn ChallengeCompletePage() -> impl IntoView {
    let reference = use_params_map().with_untracked(|p| p.get("reference")).unwrap_or_default();
    view! {
        <FrameDocument title="Your bank's check is over">
            <FrameData load=load_challenge(reference, false) pending=false />
        </FrameDocument>
    }
}

/// A page meant for the challenge frame: no site header, just its content.
#[component]
fn FrameDocument(title: &'static str, children: Children) -> impl IntoView {
    view! {
        <Title text=title />
        <main class="frame">{children()}</main>
        <script src="/3ds.js" defer></script>
    }
}

/// The frame's content once its data is loaded: the form to the bank while the check waits
/// (if `pending` pages may show it), otherwise where the check ended.
#[component]
fn FrameData<Fut>(load: Fut, pending: bool) -> impl IntoView
where
    Fut: Future<Output = Result<ChallengeView, PageError>> + Send + 'static,
{
    let data = ArcOnceResource::<Result<ChallengeView, PageError>>::new_blocking(load);
    view! {
        <Suspense fallback=|| view! { <p>"Loading…"</p> }>
            {Suspend::new(async move {
                match data.await {
                    Ok(ChallengeView { acs_url: Some(acs_url), creq, session_data, .. }) if pending => view! {
                        <form action=acs_url method="post" data-autosubmit="">
                            <input type="hidden" name="creq" value=creq.unwrap_or_default() />
                            <input type="hidden" name="threeDSSessionData" value=session_data.unwrap_or_default() />
                            <p>"Your bank will now check that it is you. Its page opens here."</p>
                            <SubmitButton label="Continue to your bank" busy="Opening your bank’s page…" />
                        </form>
                    }
                    .into_any(),
                    Ok(view) => view! { <CheckOver view /> }.into_any(),
                    Err(error) => view! { <ErrorBox heading="Your bank's check" error /> }.into_any(),
                }
            })}
        </Suspense>
    }
}

/// Where the bank's check ended, and the way out of the frame.
#[component]
fn CheckOver(view: ChallengeView) -> impl IntoView {
    let (heading, text) = match view.stage {
        CheckStage::Authenticated => {
            ("Payment authenticated — continue", "Your bank has confirmed the payment.")
        }
        CheckStage::Refused => (
            "Your bank didn't confirm the payment — continue",
            "Nothing was taken. You can try again or use another card.",
        ),
        CheckStage::Checking => (
            "Your bank's check is over — continue",
            "We are waiting for the card payment's answer; you won't be charged twice.",
        ),
        CheckStage::Over => ("This check is over — continue", "See where your payment stands."),
        CheckStage::Pending => {
            ("Your bank's check isn't finished", "Go back to your bank's page to finish it.")
        }
    };
    let next = if view.stage == CheckStage::Pending {
        view! { <a class="button" href=challenge_frame_href(&view.reference)>"Back to your bank's check"</a> }
            .into_any()
    } else {
        // target=_top: the status page replaces the whole page, not just the frame.
        view! {
            <a class="button" href=status_href(&view.reference) target="_top" data-leave-frame="">
                "Continue"
            </a>
        }
        .into_any()
    };
    view! {
        <h1 class="frame-title">{heading}</h1>
        <p>{text}</p>
        <p>{next}</p>
    }
}
