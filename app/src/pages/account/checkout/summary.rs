//! The checkout page's pieces: what is bought and the premium, what is already under way, and
//! the ways to pay with the one button that says what comes next.

use leptos::prelude::*;

use super::{CheckoutView, GatewayChoice, PayKind, StartCheckout};
use crate::links::{ACCOUNT, status_href};
use crate::pages::account::shared::{OpenPayment, Underway};

#[component]
pub(super) fn CheckoutSummary(view: CheckoutView) -> impl IntoView {
    let CheckoutView {
        policy,
        product,
        insurer,
        scheme,
        cover,
        period,
        vehicle,
        policy_address,
        due,
        nothing_owed,
        lines,
        excl,
        tax_label,
        tax,
        total,
        gateways,
        open_payment,
    } = view;
    let facts = view! {
        <section class="card">
            <h2>"What you are buying"</h2>
            <dl class="facts">
                <dt>"Product"</dt><dd>{product}</dd>
                <dt>"Policy number"</dt><dd><code class="reference">{policy.clone()}</code></dd>
                {insurer.map(|i| view! { <dt>"Insurer"</dt><dd>{i}</dd> })}
                {scheme.map(|s| view! { <dt>"Scheme"</dt><dd>{s}</dd> })}
                {cover.map(|c| view! { <dt>"Cover"</dt><dd>{c} ", starting when your payment is confirmed"</dd> })}
                {period.map(|p| view! { <dt>"Current period"</dt><dd>{p}</dd> })}
                {vehicle.map(|v| view! { <dt>"Vehicle"</dt><dd>{v}</dd> })}
                {policy_address.map(|a| view! { <dt>"Policy address"</dt><dd>{a}</dd> })}
            </dl>
        </section>
    };
    if !due {
        return view! {
            <h1>"Pay for your policy"</h1>
            <p class="flash success" role="status">"Nothing is due on this policy."</p>
            {facts}
            <p><a href=ACCOUNT>"Back to your account"</a></p>
        }
        .into_any();
    }
    // A payment that may already be charging can't be replaced: then the page offers that
    // payment, not a second one.
    let waiting_for_answer = open_payment.as_ref().is_some_and(|o| o.underway == Underway::Answer);
    let notice = open_payment.map(|open| view! { <UnderwayNotice open /> });
    let choices = if waiting_for_answer {
        ().into_any()
    } else if nothing_owed {
        view! { <ConfirmForm policy=policy.clone() /> }.into_any()
    } else if gateways.is_empty() {
        view! { <p class="flash error">"This policy can't be paid online. Please contact us."</p> }
            .into_any()
    } else {
        view! { <PayForm policy=policy.clone() gateways /> }.into_any()
    };
    view! {
        <h1>"Pay for your policy"</h1>
        <p class="lead">"Check what you are buying and the premium, then choose how to pay."</p>
        {notice}
        <div class="checkout">
            {facts}
            <section class="card">
                <h2>"Premium"</h2>
                <table class="list reflow premium">
                    <thead>
                        <tr>
                            <th scope="col">"Item"</th>
                            <th scope="col" class="num">"Excl. tax"</th>
                            <th scope="col" class="num">"Tax"</th>
                            <th scope="col" class="num">"Total"</th>
                        </tr>
                    </thead>
                    <tbody>
                        {lines
                            .into_iter()
                            .map(|l| view! {
                                <tr>
                                    <td data-label="Item">{l.description}</td>
                                    <td data-label="Excl. tax" class="num">{l.excl}</td>
                                    <td data-label="Tax" class="num">{l.tax}</td>
                                    <td data-label="Total" class="num">{l.total}</td>
                                </tr>
                            })
                            .collect_view()}
                    </tbody>
                </table>
                <dl class="totals">
                    <dt>"Premium excluding tax"</dt><dd class="num">{excl}</dd>
                    <dt>{tax_label}</dt><dd class="num">{tax}</dd>
                    <dt class="grand">"Total to pay"</dt><dd class="num grand">{total}</dd>
                </dl>
            </section>
            {(!waiting_for_answer).then(|| view! {
                <section class="card">
                    <h2>{if nothing_owed { "No payment required" } else { "How would you like to pay?" }}</h2>
                    {choices}
                </section>
            })}
        </div>
        <p><a href=ACCOUNT>"Back to your account"</a></p>
    }
    .into_any()
}

/// What the checkout says about a payment of this policy that is already under way.
#[component]
fn UnderwayNotice(open: OpenPayment) -> impl IntoView {
    let href = status_href(&open.reference);
    match open.underway {
        Underway::Answer => view! {
            <div class="flash notice" role="status">
                <p>
                    "You have already paid, or started paying, this policy and we are waiting for the answer. "
                    "We're checking with your bank or payment provider — you won't be charged twice."
                </p>
                <p><a class="button" href=href>"See where your payment stands"</a></p>
            </div>
        }
        .into_any(),
        Underway::BankCheck => view! {
            <p class="flash notice" role="status">
                "Your bank is waiting for you to confirm the card payment you started. "
                <a href=crate::links::challenge_href(&open.reference)>"Continue with your bank's check"</a>
                ", or choose another way to pay below: that cancels the card payment."
            </p>
        }
        .into_any(),
        Underway::PaymentPage => view! {
            <p class="flash notice" role="status">
                "You started paying on a payment page and haven't finished there. "
                <a href=href>"Continue that payment"</a>
                ", or choose below to start again: that cancels it."
            </p>
        }
        .into_any(),
        Underway::Invoice => view! {
            <p class="flash notice" role="status">
                "An invoice for this policy is waiting to be paid. "
                <a href=href>"See how to pay it"</a>
                ", or choose another way to pay below: that cancels the invoice."
            </p>
        }
        .into_any(),
    }
}

/// The ways to pay and the one button. The button says what happens for the chosen way
/// ("Continue to card details", "Get the invoice"): the stylesheet shows the words for the
/// checked radio button (`:has()`); without that, the first way's words stay.
#[component]
fn PayForm(policy: String, gateways: Vec<GatewayChoice>) -> impl IntoView {
    let pay = ServerAction::<StartCheckout>::new();
    let first = gateways.first().map(|g| g.kind);
    let mut kinds: Vec<PayKind> = Vec::new();
    for g in &gateways {
        if !kinds.contains(&g.kind) {
            kinds.push(g.kind);
        }
    }
    let labels = kinds
        .into_iter()
        .map(|kind| {
            let class = format!(
                "pay-label when-{}{}",
                kind.css(),
                if Some(kind) == first { " default" } else { "" }
            );
            view! { <span class=class>{kind.button()}</span> }
        })
        .collect_view();
    view! {
        <ActionForm action=pay attr:class="pay-form">
            <input type="hidden" name="policy" value=policy />
            <fieldset class="choices">
                <legend>"Payment method"</legend>
                {gateways
                    .into_iter()
                    .enumerate()
                    .map(|(i, g)| {
                        let id = format!("gateway-{}", g.id);
                        let label_for = id.clone();
                        view! {
                            <label class="choice" for=label_for>
                                <input type="radio" id=id name="gateway" value=g.id
                                    data-kind=g.kind.css() checked=i == 0 required />
                                <span><strong>{g.name}</strong><small>{g.note}</small></span>
                            </label>
                        }
                    })
                    .collect_view()}
            </fieldset>
            <button type="submit" data-busy="Working…">{labels}</button>
        </ActionForm>
    }
}

/// Nothing is owed: one button confirms, and the policy starts without any payment.
#[component]
fn ConfirmForm(policy: String) -> impl IntoView {
    let confirm = ServerAction::<StartCheckout>::new();
    view! {
        <ActionForm action=confirm attr:class="pay-form">
            <input type="hidden" name="policy" value=policy />
            <p>"The total is zero, so there is nothing to pay. Confirm to start your policy."</p>
            <button type="submit" data-busy="Working…">"Confirm and start my policy"</button>
        </ActionForm>
    }
}
