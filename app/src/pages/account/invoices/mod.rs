//! An invoice's hosted pay page, `/account/invoices/{invoiceId}` (seed 001's
//! `/api/v1/pay/{type}/{merchantReference}/{invoiceId}` leads here, with `?type=…&reference=…`,
//! which must match the invoice): the invoice, its amount, item and merchant, and the ways to pay
//! it — a card on this page (posting to [`pay::pay_invoice_by_card`]), or a gateway's payment page
//! for bank transfer or mobile money ([`pay::pay_invoice_on_page`]). Only the invoice's customer
//! sees it (the core's access rule); a paid invoice says so and offers no way to pay again.
//! Showing it tells the merchant the invoice was viewed.

pub mod pay;

use leptos::prelude::*;
use leptos_router::hooks::{use_params_map, use_query_map};
use serde::{Deserialize, Serialize};
use settle::account::Role;
use settle::checkout::card::{MAX_ADDRESS_LINE, MAX_CARD_HOLDER};

use self::pay::{PayInvoiceByCard, PayInvoiceOnPage};
use crate::PageError;
use crate::components::{PageData, SubmitButton, TextField};
use crate::layout::Layout;
use crate::links::status_href;
use crate::pages::account::shared::OpenPayment;

/// A gateway whose own page takes the payment (bank transfer, mobile money).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct PageChoice {
    /// The gateway's key.
    pub id: String,
    /// Its display name ("Bank transfer").
    pub name: String,
}

/// Where the invoice stands.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub enum InvoiceStage {
    /// Owed: the ways to pay are offered.
    Open,
    /// A payment is under way; its status page says where it stands.
    Underway(OpenPayment),
    /// Paid, with the way back to the merchant if it gave one.
    Paid(Option<String>),
    /// Withdrawn by the merchant.
    Cancelled,
}

/// What the invoice page shows.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct InvoiceView {
    /// The invoice id (`XYZ2024-ade08`).
    pub invoice: String,
    /// Who is paid.
    pub merchant: String,
    /// The merchant's reference for it.
    pub merchant_reference: Option<String>,
    /// What it is for.
    pub item: String,
    /// The amount ("AED 5,100.00").
    pub amount: String,
    /// Where it stands.
    pub stage: InvoiceStage,
    /// The card gateway that takes cards on this page, if the product offers one.
    pub card_gateway: Option<String>,
    /// The gateways whose own pages take the payment.
    pub pages: Vec<PageChoice>,
}

/// The customer's invoice, if it is theirs; `product` and `reference` (from the merchant's
/// link) must be the invoice's.
#[server(prefix = "/account/api", endpoint = "invoice")]
pub async fn load_invoice(
    invoice: String,
    product: Option<String>,
    reference: Option<String>,
) -> Result<InvoiceView, PageError> {
    use settle::gateway::GatewayKind;
    use settle::purchase::PurchaseStatus;

    use crate::pages::account::shared::payer;

    const NO_SUCH_INVOICE: &str = "We can't find that invoice on your account.";
    let user = crate::auth::require(Role::Customer)?;
    let ctx = crate::context::page_context()?;
    let viewer = payer(&user)?;
    let (offer, purchase) =
        match settle::checkout::offer_for_purchase(&ctx.db, &viewer, &invoice).await {
            Ok(found) => found,
            Err(settle::Error::NotFound(_)) => return Err(PageError::not_found(NO_SUCH_INVOICE)),
            Err(e) => return Err(PageError::logged("loading the invoice")(e)),
        };
    let given = |given: Option<String>, actual: Option<&str>| {
        given.filter(|g| !g.is_empty()).is_none_or(|g| Some(g.as_str()) == actual)
    };
    if !given(product, Some(&offer.product.code))
        || !given(reference, purchase.merchant_reference.as_deref())
    {
        return Err(PageError::not_found(NO_SUCH_INVOICE));
    }
    let merchant = match &purchase.merchant_id {
        Some(id) => settle::merchant::Merchant::find(&ctx.db, id)
            .await
            .map_err(PageError::logged("loading the merchant"))?
            .map(|m| m.name),
        None => None,
    };
    let stage = match purchase.status {
        PurchaseStatus::Paid => InvoiceStage::Paid(
            pay::way_back(&ctx, &purchase).await.map_err(PageError::logged("the way back"))?,
        ),
        PurchaseStatus::Cancelled => InvoiceStage::Cancelled,
        _ => match &offer.open {
            Some(open) => InvoiceStage::Underway(OpenPayment::of(open)),
            None => InvoiceStage::Open,
        },
    };
    pay::viewed(&ctx, &purchase).await;
    Ok(InvoiceView {
        invoice: purchase.reference.clone(),
        merchant: merchant.unwrap_or_else(|| "the merchant".into()),
        merchant_reference: purchase.merchant_reference.clone(),
        item: purchase.lines.first().map(|l| l.description.clone()).unwrap_or_default(),
        amount: purchase.amounts.gross().display().to_string(),
        stage,
        card_gateway: offer
            .gateways
            .iter()
            .find(|g| g.kind == GatewayKind::Card3ds)
            .map(|g| g.id.clone()),
        pages: offer
            .gateways
            .iter()
            .filter(|g| matches!(g.kind, GatewayKind::HostedCheckout | GatewayKind::PaymentLink))
            .map(|g| PageChoice { id: g.id.clone(), name: g.name.clone() })
            .collect(),
    })
}

/// The invoice pay page.
#[component]
pub fn InvoicePage() -> impl IntoView {
    let invoice = use_params_map().with_untracked(|p| p.get("invoice")).unwrap_or_default();
    let (product, reference) =
        use_query_map().with_untracked(|q| (q.get("type"), q.get("reference")));
    view! {
        <Layout title="Pay your invoice".into()>
            <PageData heading="Pay your invoice" load=load_invoice(invoice, product, reference) let:view>
                <Invoice view />
            </PageData>
        </Layout>
    }
}

#[component]
fn Invoice(view: InvoiceView) -> impl IntoView {
    let InvoiceView {
        invoice,
        merchant,
        merchant_reference,
        item,
        amount,
        stage,
        card_gateway,
        pages,
    } = view;
    let facts = view! {
        <dl class="facts">
            <dt>"Invoice"</dt><dd><code class="reference">{invoice.clone()}</code></dd>
            <dt>"From"</dt><dd>{merchant.clone()}</dd>
            <dt>"For"</dt><dd>{item}</dd>
            {merchant_reference.map(|r| view! { <dt>"Their reference"</dt><dd><code>{r}</code></dd> })}
            <dt>"Amount"</dt><dd><strong class="amount">{amount.clone()}</strong></dd>
        </dl>
    };
    let body = match stage {
        InvoiceStage::Paid(back) => view! {
            <p class="status-banner done" role="status">"Paid. Thank you — this invoice is settled."</p>
            {back.map(|url| view! { <p><a class="button" href=url>{format!("Return to {merchant}")}</a></p> })}
        }
        .into_any(),
        InvoiceStage::Cancelled => view! {
            <p class="status-banner failed" role="status">"This invoice was withdrawn: there is nothing to pay."</p>
        }
        .into_any(),
        InvoiceStage::Underway(open) => view! {
            <p class="status-banner pending" role="status">
                "A payment of this invoice is under way (" {open.label} "), so we won't start another. "
                <a href=status_href(&open.reference)>"See where it stands"</a> "."
            </p>
        }
        .into_any(),
        InvoiceStage::Open => view! {
            <WaysToPay invoice=invoice.clone() amount=amount.clone() card_gateway pages />
        }
        .into_any(),
    };
    view! {
        <h1>"Pay your invoice"</h1>
        <section class="card">{facts}</section>
        {body}
    }
}

#[component]
fn WaysToPay(
    invoice: String,
    amount: String,
    card_gateway: Option<String>,
    pages: Vec<PageChoice>,
) -> impl IntoView {
    let for_card = invoice.clone();
    let card = card_gateway.map(move |gateway| {
        let pay = ServerAction::<PayInvoiceByCard>::new();
        let invoice = for_card;
        view! {
            <section class="card card-entry">
                <h2>"Pay by card"</h2>
                <ActionForm action=pay>
                    <input type="hidden" name="invoice" value=invoice />
                    <input type="hidden" name="gateway" value=gateway />
                    <TextField label="Name on the card" name="card_holder" autocomplete="cc-name"
                        required=true maxlength=MAX_CARD_HOLDER as u32 />
                    <TextField label="Card number" name="card_number" autocomplete="cc-number"
                        required=true inputmode="numeric" maxlength=23 />
                    <div class="pair">
                        <TextField label="Expiry date" name="expiry_date" autocomplete="cc-exp"
                            required=true hint="MMYY, e.g. 1028" inputmode="numeric" maxlength=5 />
                        <TextField label="Security code" name="cv2" autocomplete="cc-csc"
                            required=true hint="3 digits (4 for AMEX)" inputmode="numeric" maxlength=4 />
                    </div>
                    <fieldset class="billing-address">
                        <legend>"Billing address"</legend>
                        <TextField label="House number or name" name="house" autocomplete="address-line1" maxlength=MAX_ADDRESS_LINE as u32 />
                        <TextField label="Street" name="street" autocomplete="address-line2" maxlength=MAX_ADDRESS_LINE as u32 />
                        <TextField label="Town or city" name="city" autocomplete="address-level2" maxlength=MAX_ADDRESS_LINE as u32 />
                        <TextField label="Postcode" name="postcode" autocomplete="postal-code" required=true maxlength=MAX_ADDRESS_LINE as u32 />
                    </fieldset>
                    <p class="muted small">
                        "Your card details go straight to the payment provider. Settle keeps only the card type "
                        "and its last four digits."
                    </p>
                    <SubmitButton label=format!("Pay {amount}") busy="Paying…" />
                </ActionForm>
            </section>
        }
    });
    let others = (!pages.is_empty()).then(|| {
        let choices = pages
            .into_iter()
            .map(|page| {
                let go = ServerAction::<PayInvoiceOnPage>::new();
                let invoice = invoice.clone();
                view! {
                    <ActionForm action=go attr:class="inline">
                        <input type="hidden" name="invoice" value=invoice />
                        <input type="hidden" name="gateway" value=page.id />
                        <SubmitButton label=format!("Pay by {}", page.name.to_lowercase()) busy="Opening the payment page…" class="secondary" />
                    </ActionForm>
                }
            })
            .collect_view();
        view! {
            <section class="card">
                <h2>"Other ways to pay"</h2>
                <p class="muted">"You pay on the provider's secure page and come back here afterwards."</p>
                {choices}
            </section>
        }
    });
    view! { {card} {others} }
}
