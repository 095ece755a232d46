//! Buying ahead on an ISP service, `/account/services/{serviceId}/buy`: the options the core
//! says the service may buy now (`can_buy`: day bundles, or months ahead of a monthly service),
//! each with its price per quantity including tax, and how many. "Continue" posts to
//! [`buy_service`], which asks the core for the priced purchase (`checkout::buy_now`, a quote)
//! and goes to the page that pays it ([`super::pay::QuotePayPage`]): the lines, tax and total as
//! the core priced them, the mediums, and the pay button.

use leptos::prelude::*;
use leptos_router::hooks::use_params_map;
use serde::{Deserialize, Serialize};
use settle::account::Role;

use crate::PageError;
use crate::components::{PageData, SubmitButton};
use crate::layout::Layout;
use crate::links::{ACCOUNT, service_pay_href};

/// One option the service may buy.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct BuyChoice {
    /// The option's id (the form's value).
    pub id: String,
    /// What it is called ("7 Day bundle").
    pub description: String,
    /// One quantity including tax ("ZAR 80.50").
    pub price: String,
    /// One quantity: excluding tax and the tax ("ZAR 70.00 + ZAR 10.50 tax").
    pub split: String,
    /// What one quantity adds ("7 days").
    pub adds: String,
    /// The most that may be bought now.
    pub max_quantity: i64,
}

/// What the buy page shows.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct BuyView {
    /// The service id.
    pub service: String,
    /// Its product's name.
    pub product: String,
    /// How long it is paid for.
    pub paid_until: Option<String>,
    /// The heading's words ("Buy a bundle", "Pay months ahead").
    pub heading: String,
    /// The options; empty when nothing can be bought now.
    pub options: Vec<BuyChoice>,
    /// Why nothing can be bought now (something is owed), if so.
    pub owed: Option<String>,
}

/// What the customer's service may buy now.
#[server(prefix = "/account/api", endpoint = "service_buy_view")]
pub async fn load_buy(service: String) -> Result<BuyView, PageError> {
    use settle::billing::scheme::BuyKind;
    use settle::purchase::LineType;

    use crate::format::paid_until;
    use crate::pages::account::services::{NO_SUCH_SERVICE, standing};

    let user = crate::auth::require(Role::Customer)?;
    let ctx = crate::context::page_context()?;
    let Some(standing) = standing(&ctx, &user, &service).await? else {
        return Err(PageError::not_found(NO_SUCH_SERVICE));
    };
    let heading = match standing.can_buy.as_ref().map(|b| b.kind) {
        Some(BuyKind::MonthsAhead) => "Pay months ahead",
        _ => "Buy a bundle",
    };
    let options = standing
        .can_buy
        .iter()
        .flat_map(|b| b.options.iter())
        .filter(|o| o.max_quantity >= o.price.min_quantity.max(1))
        .map(|o| {
            let n = o.price.period_per_quantity;
            let unit = if o.price.line_type == LineType::Day { "day" } else { "month" };
            BuyChoice {
                id: o.price.id.to_string(),
                description: o.price.description.clone(),
                price: o.unit.gross().display().to_string(),
                split: format!("{} + {} tax", o.unit.excl().display(), o.unit.tax().display()),
                adds: format!("{n} {unit}{}", if n == 1 { "" } else { "s" }),
                max_quantity: o.max_quantity,
            }
        })
        .collect();
    Ok(BuyView {
        service: standing.service.reference.clone(),
        product: standing.product.name.clone(),
        paid_until: paid_until(standing.service.period_end, chrono::Utc::now()),
        heading: heading.into(),
        options,
        owed: standing.must_pay.as_ref().map(|p| p.amounts.gross().display().to_string()),
    })
}

/// Asks the core to price what the customer chose (a buy-now quote) and goes to the page that
/// pays it.
#[server(prefix = "/account/api", endpoint = "service_buy")]
pub async fn buy_service(
    service: String,
    option: Option<String>,
    quantity: Option<String>,
) -> Result<(), PageError> {
    use settle::checkout::buy_now::{BuyLine, BuyNow, buy_now};

    use crate::flash::{Flash, redirect_with};
    use crate::links::{service_buy_href, service_quote_href};
    use crate::pages::account::services::{NO_SUCH_SERVICE, standing};
    use crate::pages::account::shared::payer;

    let user = crate::auth::require(Role::Customer)?;
    let ctx = crate::context::page_context()?;
    let viewer = payer(&user)?;
    let Some(standing) = standing(&ctx, &user, &service).await? else {
        return redirect_with(Flash::error(NO_SUCH_SERVICE), ACCOUNT).await;
    };
    let service = standing.service.reference.clone();
    let back = service_buy_href(&service);
    let chosen = option.as_deref().map(str::trim).and_then(|id| {
        standing.can_buy.iter().flat_map(|b| b.options.iter()).find(|o| o.price.id.as_str() == id)
    });
    let Some(chosen) = chosen else {
        return redirect_with(Flash::error("Please choose what to buy."), &back).await;
    };
    let Some(quantity) = quantity.and_then(|q| q.trim().parse::<i64>().ok()).filter(|q| *q > 0)
    else {
        return redirect_with(Flash::error("Please say how many, as a whole number."), &back).await;
    };
    let request = BuyNow {
        service_id: service.clone(),
        lines: vec![BuyLine {
            product_price_id: Some(chosen.price.id.to_string()),
            line_type_id: chosen.price.line_type.id(),
            period_per_quantity: chosen.price.period_per_quantity,
            quantity,
            ..BuyLine::default()
        }],
        ..BuyNow::default()
    };
    match buy_now(&ctx.db, &viewer, request).await {
        Ok(quote) => {
            leptos_axum::redirect(&service_quote_href(&service, &quote.purchase.id.to_string()));
            Ok(())
        }
        Err(settle::Error::Validation(fields)) => {
            let problems: Vec<String> = fields
                .iter()
                .map(|f| match f.field.rsplit('.').next() {
                    Some("quantity") => format!("How many {}", f.message),
                    _ => f.message.clone(),
                })
                .collect();
            redirect_with(Flash::error(format!("Please check: {}.", problems.join("; "))), &back)
                .await
        }
        Err(settle::Error::Conflict(_)) => {
            let flash = Flash::notice("Something is owed on this service: please pay it first.");
            redirect_with(flash, &service_pay_href(&service)).await
        }
        Err(settle::Error::NotFound(_)) => {
            redirect_with(Flash::error(NO_SUCH_SERVICE), ACCOUNT).await
        }
        Err(e) => Err(PageError::logged("making a buy-now quote")(e)),
    }
}

/// The buy page.
#[component]
pub fn ServiceBuyPage() -> impl IntoView {
    let service = use_params_map().with_untracked(|p| p.get("service")).unwrap_or_default();
    view! {
        <Layout title="Buy now".into()>
            <PageData heading="Buy now" load=load_buy(service) let:view>
                <Buy view />
            </PageData>
        </Layout>
    }
}

#[component]
fn Buy(view: BuyView) -> impl IntoView {
    let facts = view! {
        <dl class="facts">
            <dt>"Service"</dt><dd>{view.product.clone()} " " <code class="reference">{view.service.clone()}</code></dd>
            {view.paid_until.clone().map(|p| view! { <dt>"Paid for"</dt><dd>{p}</dd> })}
        </dl>
    };
    let body = if let Some(owed) = view.owed.clone() {
        view! {
            <p class="status-banner pending" role="status">
                {format!("{owed} is owed on this service: pay it first, then buy more. ")}
                <a href=service_pay_href(&view.service)>"Pay now"</a>
            </p>
        }
        .into_any()
    } else if view.options.is_empty() {
        view! {
            <p class="status-banner pending" role="status">"There is nothing to buy on this service right now."</p>
            <p><a href=ACCOUNT>"Back to your account"</a></p>
        }
        .into_any()
    } else {
        let buy = ServerAction::<BuyService>::new();
        let most = view.options.iter().map(|o| o.max_quantity).max().unwrap_or(1);
        let choices = view
            .options
            .iter()
            .enumerate()
            .map(|(i, o)| {
                view! {
                    <label class="choice">
                        <input type="radio" name="option" value=o.id.clone() checked=i == 0 required=true />
                        <span>
                            <strong>{o.description.clone()} " · " {o.price.clone()} " each"</strong>
                            <small>{format!("Adds {}. {}. Up to {} now.", o.adds, o.split, o.max_quantity)}</small>
                        </span>
                    </label>
                }
            })
            .collect_view();
        view! {
            <section class="card">
                <h2>"What to buy"</h2>
                <ActionForm action=buy attr:class="buy-now">
                    <input type="hidden" name="service" value=view.service.clone() />
                    <fieldset class="choices">
                        <legend class="visually-hidden">"What to buy"</legend>
                        {choices}
                    </fieldset>
                    <div class="field quantity">
                        <label for="quantity">"How many"</label>
                        <input type="number" id="quantity" name="quantity" value="1" min="1"
                            max=most.to_string() inputmode="numeric" required=true />
                    </div>
                    <p class="muted small">"Prices include tax. You see the total and choose how to pay next."</p>
                    <SubmitButton label="Continue" busy="Working out the price…" />
                </ActionForm>
            </section>
        }
        .into_any()
    };
    view! {
        <h1>{view.heading.clone()}</h1>
        <section class="card">{facts}</section>
        {body}
    }
}
