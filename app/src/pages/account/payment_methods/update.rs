//! Updating a saved card, `/account/payment-methods/{mediumId}/update`: the card as it is now
//! and one button that takes the customer to the provider's secure page to enter the new card
//! (posting to [`start_card_update`]); the provider brings them back to the payment methods
//! page, where the card shows its new digits and expiry. Only the customer's own tokenized cards
//! can be updated; anything else is a 404.

use leptos::prelude::*;
use leptos_router::hooks::use_params_map;
use serde::{Deserialize, Serialize};
use settle::account::Role;

use crate::PageError;
use crate::components::{PageData, SubmitButton};
use crate::layout::Layout;
use crate::links::PAYMENT_METHODS;

/// What the customer is told when the card isn't theirs (or isn't a saved card).
const NO_SUCH_CARD: &str = "We can't find that card among your payment methods.";

/// The card to update.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct CardView {
    /// The medium's id.
    pub id: String,
    /// The card in words ("Visa ending 4242").
    pub name: String,
    /// Its expiry ("expires 12/29").
    pub detail: Option<String>,
    /// Why it can't be used now, if it can't ("Expired").
    pub problem: Option<String>,
}

/// The customer's saved card with this id, if it is theirs.
#[cfg(feature = "ssr")]
async fn own_card(
    ctx: &crate::PageContext,
    user: &settle::account::User,
    medium: &str,
) -> Result<Option<settle::payment_method::PaymentMethod>, PageError> {
    use settle::payment_method::MethodKind;

    let viewer = crate::pages::account::shared::payer(user)?;
    let Some(customer) = &user.customer_id else { return Ok(None) };
    let wallet = settle::service_standing::wallet(&ctx.db, &viewer, &customer.to_string())
        .await
        .map_err(PageError::logged("loading payment methods"))?;
    let medium = medium.trim().to_lowercase();
    Ok(wallet.mediums.into_iter().find(|m| {
        m.id.to_string() == medium && m.kind == MethodKind::Card && m.gateway_token.is_some()
    }))
}

/// The card the customer wants to update.
#[server(prefix = "/account/api", endpoint = "card_update_view")]
pub async fn load_card(medium: String) -> Result<CardView, PageError> {
    use crate::format::{medium_detail, medium_name, medium_status};

    let user = crate::auth::require(Role::Customer)?;
    let ctx = crate::context::page_context()?;
    let card =
        own_card(&ctx, &user, &medium).await?.ok_or_else(|| PageError::not_found(NO_SUCH_CARD))?;
    Ok(CardView {
        id: card.id.to_string(),
        name: medium_name(&card),
        detail: medium_detail(&card),
        problem: medium_status(card.status).map(str::to_owned),
    })
}

/// Settle's route the gateway sends the customer back to after a card update (`{id}`: the
/// update's id). The server serves it (`server/src/api/pay_now/card_update.rs`); the core asks
/// the gateway how the update ended there, then sends the customer on to `return`.
pub const CARD_UPDATE_RETURN: &str = "/card-updates/{id}/return";

/// Starts updating the customer's card through the core (`billing::card_update::start`): sends
/// the browser to the provider's card page, which comes back to the payment methods page.
#[server(prefix = "/account/api", endpoint = "card_update")]
pub async fn start_card_update(medium: String) -> Result<(), PageError> {
    use crate::flash::{Flash, redirect_with};
    use crate::pages::account::shared::payer;

    let user = crate::auth::require(Role::Customer)?;
    let ctx = crate::context::page_context()?;
    let Some(card) = own_card(&ctx, &user, &medium).await? else {
        return redirect_with(Flash::error(NO_SUCH_CARD), PAYMENT_METHODS).await;
    };
    let viewer = payer(&user)?;
    let started = settle::billing::card_update::start(
        &ctx.payments,
        &viewer,
        card.id.as_str(),
        CARD_UPDATE_RETURN,
    )
    .await;
    match started {
        Ok(started) => {
            let mut url = started.url;
            url.query_pairs_mut().append_pair("return", PAYMENT_METHODS);
            leptos_axum::redirect(url.as_str());
            Ok(())
        }
        Err(settle::Error::NotFound(_)) => {
            redirect_with(Flash::error(NO_SUCH_CARD), PAYMENT_METHODS).await
        }
        Err(settle::Error::Validation(_)) => {
            let flash = Flash::error(
                "This card's provider can't update it. Pay with a new card instead: it is saved for you.",
            );
            redirect_with(flash, PAYMENT_METHODS).await
        }
        Err(e) => {
            tracing::error!(error = %e, "starting a card update failed");
            let flash = Flash::error(
                "Updating cards is unavailable right now. Your card is unchanged; please try again later.",
            );
            redirect_with(flash, PAYMENT_METHODS).await
        }
    }
}

/// The card update page.
#[component]
pub fn CardUpdatePage() -> impl IntoView {
    let medium = use_params_map().with_untracked(|p| p.get("medium")).unwrap_or_default();
    view! {
        <Layout title="Update your card".into()>
            <PageData heading="Update your card" load=load_card(medium) let:view>
                <UpdateCard view />
            </PageData>
        </Layout>
    }
}

#[component]
fn UpdateCard(view: CardView) -> impl IntoView {
    let start = ServerAction::<StartCardUpdate>::new();
    view! {
        <h1>"Update your card"</h1>
        <section class="card">
            <p>
                <strong>{view.name}</strong>
                {view.problem.map(|p| view! { " " <span class="tag notice">{p}</span> })}
                {view.detail.map(|d| view! { <br /> <span class="muted">{d}</span> })}
            </p>
            <p>
                "You enter your new card on the payment provider's secure page, then come back here. "
                "Your services keep being paid with it: nothing else changes."
            </p>
            <ActionForm action=start>
                <input type="hidden" name="medium" value=view.id />
                <SubmitButton label="Continue to the card provider" busy="Opening the provider's page…" />
            </ActionForm>
        </section>
        <p><a href=PAYMENT_METHODS>"Back to your payment methods"</a></p>
    }
}
