//! The insurance checkout summary: what the customer buys, the premium with tax, and how to pay.
//!
//! `/account/checkout?policy=DEMO/0001/MOTOR/WEB` (policy numbers contain slashes, so they travel
//! in the query). "Pay" posts to [`start_checkout`]: a hosted-checkout gateway sends the browser
//! to the gateway's page, a card gateway to Settle's card page, the invoice gateway to the
//! payment's status page. Also holds the helpers the card and status pages share.

use leptos::prelude::*;
use leptos_router::hooks::use_query_map;
use serde::{Deserialize, Serialize};
use settle::account::Role;

use crate::PageError;
use crate::layout::Layout;

/// One premium line of the purchase.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct PremiumLine {
    /// What the line is for.
    pub description: String,
    /// Amount excluding tax.
    pub excl: String,
    /// Tax on it.
    pub tax: String,
    /// Amount including tax.
    pub total: String,
}

/// A way to pay the customer may choose.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct GatewayChoice {
    /// The gateway's key (the radio button's value).
    pub id: String,
    /// Its display name.
    pub name: String,
    /// One sentence on what happens when it is chosen.
    pub note: String,
}

/// What the checkout summary shows.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct CheckoutView {
    /// The policy number.
    pub policy: String,
    /// The product name.
    pub product: String,
    /// Insurer and scheme, if the quote names them.
    pub insurer: Option<String>,
    /// How long the cover lasts ("12 months").
    pub cover: Option<String>,
    /// The current period, if the policy already has one.
    pub period: Option<String>,
    /// The insured vehicle, if any.
    pub vehicle: Option<String>,
    /// The policy address, one line.
    pub policy_address: Option<String>,
    /// Whether something is owed (an open purchase).
    pub due: bool,
    /// The premium lines.
    pub lines: Vec<PremiumLine>,
    /// Total excluding tax.
    pub excl: String,
    /// "Tax (5 %)".
    pub tax_label: String,
    /// Total tax.
    pub tax: String,
    /// Total to pay.
    pub total: String,
    /// The ways to pay, in the product's order.
    pub gateways: Vec<GatewayChoice>,
    /// A payment already under way for this purchase: (reference, what it is doing).
    pub open_payment: Option<(String, String)>,
}

/// The link to a policy's checkout page.
pub fn checkout_href(policy: &str) -> String {
    format!("/account/checkout?policy={}", query_value(policy))
}

/// The link to a policy's card payment page.
pub fn card_href(policy: &str, gateway: Option<&str>) -> String {
    let mut href = format!("/account/checkout/card?policy={}", query_value(policy));
    if let Some(gateway) = gateway {
        href.push_str("&gateway=");
        href.push_str(&query_value(gateway));
    }
    href
}

/// The link to a payment's status page.
pub fn status_href(reference: &str) -> String {
    format!("/account/payments/{}", query_value(reference))
}

/// A query value, percent-encoded except for `/`, which is legal in a query and keeps policy
/// numbers readable in the address bar.
fn query_value(value: &str) -> String {
    url::form_urlencoded::byte_serialize(value.as_bytes()).collect::<String>().replace("%2F", "/")
}

/// The checkout summary of one of the customer's policies.
#[server(prefix = "/account/api", endpoint = "checkout")]
pub async fn load_checkout(policy: String) -> Result<CheckoutView, PageError> {
    let user = crate::auth::require(Role::Customer)?;
    let ctx = crate::context::page_context()?;
    if policy.trim().is_empty() {
        return Err(PageError::bad_request(
            "No policy was chosen. Choose the policy to pay on your account page.",
        ));
    }
    let offer =
        settle::checkout::policy(&ctx.db, &payer(&user)?, &policy).await.map_err(|e| match e {
            settle::Error::NotFound(_) => {
                PageError::not_found("We can't find that policy on your account.")
            }
            other => internal("loading the policy")(other),
        })?;
    let settle::checkout::Offer { service, product, gateways, owed: purchase, open } = offer;
    let open_payment = open.map(|p| (p.reference.clone(), p.state.client_feedback().to_owned()));
    let details = &service.details;
    let quote = details.quote.clone().unwrap_or_default();
    let insurer = match (quote.insurer_name, quote.scheme_name) {
        (Some(insurer), Some(scheme)) if scheme.starts_with(&insurer) => Some(scheme),
        (Some(insurer), Some(scheme)) => Some(format!("{insurer}, {scheme}")),
        (insurer, scheme) => insurer.or(scheme),
    };
    let vehicle = details.vehicle.as_ref().and_then(|v| {
        let text = |key: &str| match v.get(key) {
            Some(serde_json::Value::String(s)) if !s.trim().is_empty() => Some(s.trim().to_owned()),
            Some(serde_json::Value::Number(n)) => Some(n.to_string()),
            _ => None,
        };
        let name: Vec<String> = [text("make"), text("model")].into_iter().flatten().collect();
        let year = text("year_of_manufacture").map(|y| format!(" ({y})"));
        let reg = text("reg_no").map(|r| format!(", registration {r}"));
        (!name.is_empty()).then(|| {
            format!("{}{}{}", name.join(" "), year.unwrap_or_default(), reg.unwrap_or_default())
        })
    });
    let policy_address = details.policy_address().map(|a| a.one_line());
    let period = match (service.period_start, service.period_end) {
        (Some(start), Some(end)) => Some(format!("{} to {}", long_date(start), long_date(end))),
        _ => None,
    };
    let cover = purchase.as_ref().and_then(|p| cover_length(&p.lines));
    // "5 %", not the "5.0 %" a whole-number rate prints as.
    let rate = product.tax_rate.percent().to_string();
    let tax_label = format!("Tax ({} %)", rate.strip_suffix(".0").unwrap_or(&rate));
    let (lines, excl, tax, total) = match &purchase {
        Some(p) => (
            p.lines
                .iter()
                .map(|l| PremiumLine {
                    description: l.description.clone(),
                    excl: l.amounts.excl().to_string(),
                    tax: l.amounts.tax().to_string(),
                    total: l.amounts.gross().to_string(),
                })
                .collect(),
            p.amounts.excl().to_string(),
            p.amounts.tax().to_string(),
            p.amounts.gross().to_string(),
        ),
        None => (Vec::new(), String::new(), String::new(), String::new()),
    };
    Ok(CheckoutView {
        policy: service.reference.clone(),
        product: product.name,
        insurer,
        cover,
        period,
        vehicle,
        policy_address,
        due: purchase.is_some(),
        lines,
        excl,
        tax_label,
        tax,
        total,
        gateways: gateways
            .into_iter()
            .filter_map(|g| {
                let note = payable_here(g.kind, &g.name)?;
                Some(GatewayChoice { id: g.id, name: g.name, note })
            })
            .collect(),
        open_payment,
    })
}

/// Starts paying a policy through the chosen gateway and sends the browser on: to the gateway's
/// hosted page, to the card page, or to the payment's status page. Problems come back as a flash
/// message on the checkout page.
#[server(prefix = "/account/api", endpoint = "checkout_pay")]
pub async fn start_checkout(policy: String, gateway: Option<String>) -> Result<(), PageError> {
    use settle::gateway::GatewayKind;
    use settle::payment::PaymentState;

    use crate::flash::Flash;

    let user = crate::auth::require(Role::Customer)?;
    let ctx = crate::context::page_context()?;
    let back = checkout_href(&policy);
    let viewer = payer(&user)?;
    let offer = match settle::checkout::policy(&ctx.db, &viewer, &policy).await {
        Ok(offer) => offer,
        Err(settle::Error::NotFound(_)) => {
            return flash_redirect(
                Flash::error("We can't find that policy on your account."),
                "/account",
            )
            .await;
        }
        Err(e) => return Err(internal("loading the policy")(e)),
    };
    let Some(gateway_id) = gateway.filter(|g| !g.trim().is_empty()) else {
        return flash_redirect(Flash::error("Choose how you would like to pay."), &back).await;
    };
    let Some(gateway) = offer
        .gateways
        .iter()
        .find(|g| g.id == gateway_id && payable_here(g.kind, &g.name).is_some())
        .cloned()
    else {
        return flash_redirect(
            Flash::error("That way of paying isn't available for this policy. Choose another."),
            &back,
        )
        .await;
    };
    if offer.owed.is_none() {
        // The checkout page says so.
        leptos_axum::redirect(&back);
        return Ok(());
    }
    if gateway.kind == GatewayKind::Card3ds {
        leptos_axum::redirect(&card_href(&offer.service.reference, Some(&gateway.id)));
        return Ok(());
    }
    let started = settle::checkout::start_by_gateway(
        &ctx.payments,
        &viewer,
        &offer.service.reference,
        &gateway.id,
        None,
        None,
    )
    .await;
    let payment = match started {
        Ok(started) => started.payment,
        Err(settle::Error::PaymentInProgress(reference)) => {
            return flash_redirect(in_progress_flash(), &status_href(&reference)).await;
        }
        Err(e) => return flash_redirect(Flash::error(start_error_message(&e)), &back).await,
    };
    tracing::info!(payment = %payment.reference, gateway = %gateway.id, state = %payment.state, "checkout started");
    match (payment.state, payment.redirect_url.as_deref()) {
        (PaymentState::AwaitingCustomer, Some(url)) => {
            leptos_axum::redirect(url);
            Ok(())
        }
        (PaymentState::PaymentFailed | PaymentState::TerminalError, _) => {
            let why = payment.failure_reason.as_deref().unwrap_or("the payment provider said no");
            flash_redirect(
                Flash::error(format!(
                    "{gateway} could not start your payment ({why}). Please try again, or choose another way to pay.",
                    gateway = gateway.name,
                )),
                &back,
            )
            .await
        }
        _ => {
            leptos_axum::redirect(&status_href(&payment.reference));
            Ok(())
        }
    }
}

/// The checkout summary page.
#[component]
pub fn CheckoutPage() -> impl IntoView {
    let policy = use_query_map().with_untracked(|q| q.get("policy")).unwrap_or_default();
    let view_data = Resource::new_blocking(move || policy.clone(), load_checkout);
    view! {
        <Layout title="Checkout".into()>
            <Suspense fallback=|| view! { <p>"Loading your checkout…"</p> }>
                {move || Suspend::new(async move {
                    match view_data.await {
                        Ok(view) => view! { <CheckoutSummary view /> }.into_any(),
                        Err(e) => view! {
                            <h1>"Checkout"</h1>
                            <p class="flash error">{report_problem(&e)}</p>
                            <p><a href="/account">"Back to your account"</a></p>
                        }
                        .into_any(),
                    }
                })}
            </Suspense>
        </Layout>
    }
}

#[component]
fn CheckoutSummary(view: CheckoutView) -> impl IntoView {
    let pay = ServerAction::<StartCheckout>::new();
    let CheckoutView {
        policy,
        product,
        insurer,
        cover,
        period,
        vehicle,
        policy_address,
        due,
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
                <dt>"Policy number"</dt><dd><code>{policy.clone()}</code></dd>
                {insurer.map(|i| view! { <dt>"Insurer"</dt><dd>{i}</dd> })}
                {cover.map(|c| view! { <dt>"Cover"</dt><dd>{c} ", starting when your payment is confirmed"</dd> })}
                {period.map(|p| view! { <dt>"Current period"</dt><dd>{p}</dd> })}
                {vehicle.map(|v| view! { <dt>"Vehicle"</dt><dd>{v}</dd> })}
                {policy_address.map(|a| view! { <dt>"Policy address"</dt><dd>{a}</dd> })}
            </dl>
        </section>
    };
    let in_progress = open_payment.map(|(reference, feedback)| {
        view! {
            <p class="flash notice" role="status">
                "A payment for this policy is already under way (" {feedback.to_lowercase()} "). "
                <a href=status_href(&reference)>"See that payment"</a>
                ", or choose below to start again: starting again cancels it."
            </p>
        }
    });
    if !due {
        return view! {
            <h1>"Pay for your policy"</h1>
            <p class="flash success" role="status">"Nothing is due on this policy."</p>
            {facts}
            <p><a href="/account">"Back to your account"</a></p>
        }
        .into_any();
    }
    let pay_label = format!("Pay {total}");
    let choices = if gateways.is_empty() {
        view! { <p class="flash error">"This policy can't be paid online. Please contact us."</p> }
            .into_any()
    } else {
        view! {
            <ActionForm action=pay>
                <input type="hidden" name="policy" value=policy.clone() />
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
                                    <input type="radio" id=id name="gateway" value=g.id checked=i == 0 required />
                                    <span><strong>{g.name}</strong><small>{g.note}</small></span>
                                </label>
                            }
                        })
                        .collect_view()}
                </fieldset>
                <button type="submit">{pay_label}</button>
            </ActionForm>
        }
        .into_any()
    };
    view! {
        <h1>"Pay for your policy"</h1>
        <p class="lead">"Check what you are buying and the premium, choose how to pay, then press Pay."</p>
        {in_progress}
        <div class="checkout">
            {facts}
            <section class="card">
                <h2>"Premium"</h2>
                <table class="list premium">
                    <thead>
                        <tr><th>"Item"</th><th class="num">"Excl. tax"</th><th class="num">"Tax"</th><th class="num">"Total"</th></tr>
                    </thead>
                    <tbody>
                        {lines
                            .into_iter()
                            .map(|l| view! {
                                <tr><td>{l.description}</td><td class="num">{l.excl}</td><td class="num">{l.tax}</td><td class="num">{l.total}</td></tr>
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
            <section class="card">
                <h2>"How would you like to pay?"</h2>
                {choices}
            </section>
        </div>
        <p><a href="/account">"Back to your account"</a></p>
    }
    .into_any()
}

/// The message of a page's data error, for the page to show; also gives the page the error's
/// status code (404 for something not found or not the customer's, 500 for our faults).
pub fn report_problem(e: &PageError) -> String {
    if let Some(response) = use_context::<leptos_axum::ResponseOptions>() {
        response.set_status(e.status_code());
    }
    e.message.clone()
}

/// The sentence a customer sees for a gateway kind this page can take, or `None` if it can't
/// (Apple Pay needs script and an Apple device; direct debit and off-system payments are set up
/// elsewhere).
#[cfg(feature = "ssr")]
fn payable_here(kind: settle::gateway::GatewayKind, name: &str) -> Option<String> {
    use settle::gateway::GatewayKind;
    match kind {
        GatewayKind::HostedCheckout | GatewayKind::PaymentLink => Some(format!(
            "Pay by card on {name}'s secure payment page; you come back here afterwards."
        )),
        GatewayKind::Card3ds => Some(
            "Enter your card details on the next page. Your bank may ask you to confirm the payment."
                .into(),
        ),
        GatewayKind::Invoice => Some(
            "Get an invoice and pay it later by bank transfer. Your policy starts once it is paid."
                .into(),
        ),
        GatewayKind::ApplePay | GatewayKind::DirectDebit | GatewayKind::OffSystem => None,
    }
}

/// How long the lines' cover lasts, as fulfilment counts it: day lines in days, the others in
/// months.
#[cfg(feature = "ssr")]
fn cover_length(lines: &[settle::purchase::PurchaseLine]) -> Option<String> {
    use settle::purchase::LineType;
    let (mut days, mut months) = (0i64, 0i64);
    for line in lines {
        let length = line.quantity.saturating_mul(line.period_per_quantity);
        match line.line_type {
            LineType::Day => days = days.saturating_add(length),
            _ => months = months.saturating_add(length),
        }
    }
    let plural = |n: i64, unit: &str| format!("{n} {unit}{}", if n == 1 { "" } else { "s" });
    match (days, months) {
        (0, 0) => None,
        (0, m) => Some(plural(m, "month")),
        (d, 0) => Some(plural(d, "day")),
        (d, m) => Some(format!("{} and {}", plural(m, "month"), plural(d, "day"))),
    }
}

/// A date as people write it: "4 February 2026".
#[cfg(feature = "ssr")]
pub(crate) fn long_date(at: chrono::DateTime<chrono::Utc>) -> String {
    at.format("%-d %B %Y").to_string()
}

/// The customer's payment with this reference and the policy it pays, or `None` if there is none
/// or it isn't theirs.
#[cfg(feature = "ssr")]
pub(crate) async fn owned_payment(
    ctx: &crate::PageContext,
    user: &settle::account::User,
    reference: &str,
) -> Result<Option<(settle::payment::Payment, settle::service::ServiceSummary)>, PageError> {
    use settle::payment::Payment;
    use settle::purchase::Purchase;
    use settle::service::Service;

    let Some(customer) = &user.customer_id else {
        return Err(PageError::forbidden("Your account has no customer record."));
    };
    if !plausible_reference(reference.trim()) {
        return Ok(None);
    }
    let Some(payment) = Payment::find_by_reference(&ctx.db, reference.trim())
        .await
        .map_err(internal("loading the payment"))?
    else {
        return Ok(None);
    };
    let Some(purchase) = Purchase::find(&ctx.db, &payment.purchase_id)
        .await
        .map_err(internal("loading the purchase"))?
    else {
        return Ok(None);
    };
    // The customer's own services: a payment for anyone else's is "not found".
    let service = Service::summaries_for_customer(&ctx.db, customer)
        .await
        .map_err(internal("loading your services"))?
        .into_iter()
        .find(|s| s.service.id == purchase.service_id);
    Ok(service.map(|s| (payment, s)))
}

/// Whether `reference` could name a policy or payment at all: no reference is empty, very long
/// or holds control characters (PostgreSQL refuses NUL in text, which would be a 500, not the
/// 404 it is).
#[cfg(feature = "ssr")]
fn plausible_reference(reference: &str) -> bool {
    !reference.is_empty() && reference.len() <= 200 && !reference.chars().any(char::is_control)
}

/// Logs an internal failure and gives the customer a sentence without its details.
#[cfg(feature = "ssr")]
pub(crate) fn internal(what: &'static str) -> impl Fn(settle::Error) -> PageError {
    move |e| {
        tracing::error!(error = %e, "{what} failed");
        PageError::internal("This can't be shown right now. Please try again in a few minutes.")
    }
}

/// What to tell the customer when a payment could not be started.
#[cfg(feature = "ssr")]
pub(crate) fn start_error_message(e: &settle::Error) -> String {
    match e {
        settle::Error::Conflict(_) => "This payment can't be started: the policy is already paid, \
            or a payment for it is still being processed. Check your account for its status."
            .into(),
        settle::Error::Validation(fields) => {
            let problems: Vec<String> =
                fields.iter().map(|f| format!("{}: {}", f.field, f.message)).collect();
            format!("The payment was refused: {}.", problems.join("; "))
        }
        settle::Error::NotFound(what) => format!("The {what} could not be found."),
        settle::Error::PaymentInProgress(_) => "A payment for this policy is already under way; \
            wait for it to finish. You won't be charged twice."
            .into(),
        other => {
            tracing::error!(error = %other, "starting a payment failed");
            "Payments are unavailable right now. Nothing was charged; please try again in a few minutes."
                .into()
        }
    }
}

/// The access rule's view of a signed-in user.
#[cfg(feature = "ssr")]
pub(crate) fn payer(user: &settle::account::User) -> Result<settle::access::Viewer, ServerFnError> {
    settle::access::Viewer::of_user(user)
        .map_err(|_| ServerFnError::new("Your account has no customer record."))
}

/// What a customer is told when a payment for the same policy is already under way.
#[cfg(feature = "ssr")]
pub(crate) fn in_progress_flash() -> crate::flash::Flash {
    crate::flash::Flash::success(
        "A payment for this policy is already under way. Here is where it stands; you won't be charged twice.",
    )
}

/// Keeps a flash message for the next page and sends the browser to `to` (post/redirect/get).
#[cfg(feature = "ssr")]
pub(crate) async fn flash_redirect(flash: crate::flash::Flash, to: &str) -> Result<(), PageError> {
    let session: tower_sessions::Session = leptos_axum::extract().await?;
    flash.store(&session).await.map_err(|e| {
        tracing::error!(error = %e, "storing a flash message failed");
        PageError::unavailable(
            "Sessions are unavailable right now. Please try again in a few minutes.",
        )
    })?;
    leptos_axum::redirect(to);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_keep_policy_numbers_readable_and_encode_the_rest() {
        assert_eq!(
            checkout_href("DEMO/0001/MOTOR/WEB"),
            "/account/checkout?policy=DEMO/0001/MOTOR/WEB"
        );
        assert_eq!(
            card_href("A&B 1", Some("sagepay-gbp")),
            "/account/checkout/card?policy=A%26B+1&gateway=sagepay-gbp"
        );
        assert_eq!(status_href("PAY-0123"), "/account/payments/PAY-0123");
    }

    #[test]
    fn cover_is_counted_like_fulfilment_counts_it() {
        use settle::money::{Currency, Money};
        use settle::purchase::{LineType, PurchaseLine};
        use settle::tax::{TaxRate, TaxSplit};
        let line = |line_type, quantity, period_per_quantity| PurchaseLine {
            id: "l".into(),
            line_type,
            description: String::new(),
            quantity,
            unit_price: Money::zero(Currency::GBP),
            period_per_quantity,
            tax_rate: TaxRate::from_basis_points(0).unwrap(),
            amounts: TaxSplit::zero(Currency::GBP),
        };
        assert_eq!(cover_length(&[line(LineType::OnceOff, 1, 12)]).as_deref(), Some("12 months"));
        assert_eq!(cover_length(&[line(LineType::Day, 4, 1)]).as_deref(), Some("4 days"));
        assert_eq!(
            cover_length(&[line(LineType::Monthly, 1, 1), line(LineType::Day, 1, 1)]).as_deref(),
            Some("1 month and 1 day")
        );
        assert_eq!(cover_length(&[]), None);
    }
}
