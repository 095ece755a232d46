//! The customer's pay-now pages (seed 004's screens, server-rendered, no script): the account
//! page's service card, the pay now page, its result page, the payment methods page and the card
//! update page render for the owner, are a 404 for another customer, and their forms work as
//! plain form posts answered with a redirect (post/redirect/get, the message in the next page).

use anyhow::{Context, Result};
use settle::demo::{ADD_NEW_METHOD_ID, CUSTOMER_EMAIL, CUSTOMER_PASSWORD, ISP_SERVICE_ID};
use settle::payment_method::{MethodKind, PaymentMethod};
use settle::purchase::Purchase;
use settle::service::Service;

use crate::support::{TestApp, ensure, html_forms, location};

/// The demo ISP service's pay now page.
fn pay_page() -> String {
    format!("/account/services/{ISP_SERVICE_ID}/pay")
}

/// The demo customer's mediums of one kind, oldest first.
async fn mediums(app: &TestApp, kind: MethodKind) -> Result<Vec<PaymentMethod>> {
    let customer = settle::demo::customer(&app.db).await?;
    let all = PaymentMethod::of_customer(&app.db, &customer.id).await?;
    Ok(all.into_iter().filter(|m| m.kind == kind).collect())
}

/// The demo ISP service as stored.
async fn isp_service(app: &TestApp) -> Result<Service> {
    Service::find_by_reference(&app.db, ISP_SERVICE_ID).await?.context("the demo ISP service")
}

/// What the demo ISP service owes now.
async fn owed(app: &TestApp) -> Result<Purchase> {
    let service = isp_service(app).await?;
    Purchase::open_for_service(&app.db, &service.id).await?.into_iter().next().context("arrears")
}

/// A page's body, checked to be a 200.
async fn page(app: &TestApp, path: &str) -> Result<String> {
    let response = app.get(path).await?;
    let status = response.status();
    let html = response.text().await?;
    ensure(status == 200, format!("{path}: {status}"))?;
    Ok(html)
}

/// Posts a form as a browser without script does, checks it is answered with a redirect, and
/// follows it: the page it lands on (its path and body).
async fn post_and_follow(
    app: &TestApp,
    action: &str,
    form: &[(&str, &str)],
) -> Result<(String, String)> {
    let response = app.post_form(action, form).await?;
    let status = response.status();
    ensure(status.is_redirection(), format!("{action} answers a redirect, not {status}"))?;
    let to = location(&response);
    let path = to.strip_prefix(&app.base).unwrap_or(&to).to_owned();
    let html = page(app, &path).await?;
    Ok((path, html))
}

pub async fn pay_now_pages_render_for_the_owner(app: TestApp) -> Result<()> {
    app.log_in(CUSTOMER_EMAIL, CUSTOMER_PASSWORD, "/account").await?;
    let arrears = owed(&app).await?;

    // The account page: the service as a card, in words, with "Pay now".
    let home = page(&app, "/account").await?;
    for words in ["Fibre 20/10 Monthly", "ZAR 379.16", "In arrears", "Active", "Paid until "] {
        ensure(home.contains(words), format!("the service card shows {words:?}"))?;
    }
    ensure(!home.contains(">InArrears<"), "no internal code on the account page")?;
    ensure(
        home.contains(&format!("href=\"{}\"", pay_page())) && home.contains(">Pay now</a>"),
        "the card links to its pay now page",
    )?;

    // The pay now page (the id in any case): the amount, the mediums, the active one marked.
    let pay = page(&app, &pay_page().to_lowercase()).await?;
    for words in [
        "Amount payable",
        "ZAR 379.16",
        "ZAR 329.70",
        "Visa ending 4242",
        "expires 12/29",
        "✓ Active",
        "Payment link",
        "Add new payment method",
        "Pay ZAR 379.16",
        "pay at a store or by EFT",
    ] {
        ensure(pay.contains(words), format!("the pay now page shows {words:?}"))?;
    }
    let forms = html_forms(&pay);
    let form = forms
        .iter()
        .find(|f| f.action == "/account/api/service_pay")
        .context("the pay form posts to service_pay")?;
    let field = |name: &str| form.fields.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str());
    ensure(field("purchase") == Some(&arrears.id.to_string()), "the form names what is owed")?;
    ensure(field("service") == Some(ISP_SERVICE_ID), "and the service")?;
    let card = &mediums(&app, MethodKind::Card).await?[0];
    let mediums_offered: Vec<&str> =
        form.fields.iter().filter(|(n, _)| n == "medium").map(|(_, v)| v.as_str()).collect();
    ensure(
        mediums_offered.first() == Some(&card.id.to_string().as_str())
            && mediums_offered.last() == Some(&ADD_NEW_METHOD_ID),
        format!("the saved card first, add new last: {mediums_offered:?}"),
    )?;
    ensure(pay.contains(&format!("value=\"{}\" checked", card.id)), "the active medium is chosen")?;

    // The result page of a purchase nobody has paid yet.
    let result =
        page(&app, &format!("/account/services/{ISP_SERVICE_ID}/pay/{}/0", arrears.id)).await?;
    ensure(
        result.contains("You haven&#x27;t paid yet") || result.contains("You haven't paid yet"),
        "not paid yet",
    )?;

    // Payment methods: in words, the active one per service, "Update card".
    let methods = page(&app, "/account/payment-methods").await?;
    for words in [
        "Visa ending 4242",
        "expires 12/29",
        "Pay at a store or by EFT",
        "Bank account ending",
        "✓ Active: Visa ending 4242",
        "Update card",
    ] {
        ensure(methods.contains(words), format!("the payment methods page shows {words:?}"))?;
    }
    let update = format!("/account/payment-methods/{}/update", card.id);
    ensure(methods.contains(&format!("href=\"{update}\"")), "the card links to its update")?;
    let update_page = page(&app, &update).await?;
    ensure(update_page.contains("Continue to the card provider"), "the card update page")?;
    Ok(())
}

pub async fn another_customer_finds_none_of_the_pay_now_pages(app: TestApp) -> Result<()> {
    let arrears = owed(&app).await?;
    let card = mediums(&app, MethodKind::Card).await?.remove(0);
    let bank = mediums(&app, MethodKind::BankAccount).await?.remove(0);
    let other = app.other_customer().await?;
    let stranger = TestApp { client: app.new_client(), ..app };
    stranger.log_in(&other.email, &other.password, "/account").await?;
    for path in [
        pay_page(),
        format!("/account/services/{ISP_SERVICE_ID}/pay/{}/1", arrears.id),
        format!("/account/payment-methods/{}/update", card.id),
        // A policy has no pay now page (policies are paid through the checkout).
        format!("/account/services/{}/pay", other.policy_number.replace('/', "%2F")),
    ] {
        let response = stranger.get(&path).await?;
        let status = response.status();
        let text = response.text().await?;
        ensure(status == 404, format!("{path}: {status}"))?;
        ensure(
            !text.contains("Thandi") && !text.contains("4242") && !text.contains("379.16"),
            format!("{path} shows nothing of the owner's"),
        )?;
    }
    // Their own payment methods page shows none of the owner's.
    let methods = page(&stranger, "/account/payment-methods").await?;
    ensure(!methods.contains("4242") && !methods.contains("Fibre"), "none of the owner's mediums")?;

    // The forms, posted with the owner's service and mediums, change and start nothing.
    let service = bank.id.to_string();
    stranger
        .post_form(
            "/account/api/set_active_medium",
            &[("service", ISP_SERVICE_ID), ("medium", service.as_str())],
        )
        .await?;
    let after = isp_service(&stranger).await?;
    ensure(
        after.active_payment_method_id == Some(card.id.clone()),
        "the active medium is unchanged",
    )?;
    let count = "SELECT COUNT(*) FROM payments";
    let before: i64 =
        settle::with_db!(&stranger.db, pool => sqlx::query_scalar(count).fetch_one(pool).await)?;
    let purchase = arrears.id.to_string();
    let card_id = card.id.to_string();
    let form = [
        ("service", ISP_SERVICE_ID),
        ("purchase", purchase.as_str()),
        ("medium", card_id.as_str()),
    ];
    stranger.post_form("/account/api/service_pay", &form).await?;
    stranger.post_form("/account/api/card_update", &[("medium", card_id.as_str())]).await?;
    let now: i64 =
        settle::with_db!(&stranger.db, pool => sqlx::query_scalar(count).fetch_one(pool).await)?;
    ensure(now == before, format!("the forms started {} payments", now - before))
}

pub async fn the_active_medium_form_works_without_javascript(app: TestApp) -> Result<()> {
    app.log_in(CUSTOMER_EMAIL, CUSTOMER_PASSWORD, "/account").await?;
    let bank = mediums(&app, MethodKind::BankAccount).await?.remove(0);
    let link = mediums(&app, MethodKind::PaymentLink).await?.remove(0);

    // The page's own form, as the page renders it, with the bank account chosen.
    let methods = page(&app, "/account/payment-methods").await?;
    let forms = html_forms(&methods);
    let form = forms
        .iter()
        .find(|f| f.action == "/account/api/set_active_medium")
        .context("the set-active form")?;
    ensure(form.method == "post", "a plain form post")?;
    let bank_id = bank.id.to_string();
    let (path, html) = post_and_follow(
        &app,
        &form.action,
        &[("service", ISP_SERVICE_ID), ("medium", bank_id.as_str())],
    )
    .await?;
    ensure(path == "/account/payment-methods", format!("back to the payment methods: {path}"))?;
    ensure(html.contains("flash success"), "a success message")?;
    ensure(html.contains("✓ Active: Bank account ending"), "the bank account is active now")?;
    ensure(
        isp_service(&app).await?.active_payment_method_id == Some(bank.id.clone()),
        "stored as the service's active medium",
    )?;
    // The API answers the same medium.
    let token = app.customer_token().await?;
    let active = app
        .get_ok(&token, &format!("/active-payment-medium-for-service?serviceId={ISP_SERVICE_ID}"))
        .await?;
    ensure(active["medium_detail_id"] == bank_id.as_str(), format!("the API agrees: {active}"))?;

    // A payment link can't be the active medium: refused with a message, nothing changes.
    let link_id = link.id.to_string();
    let (_, html) = post_and_follow(
        &app,
        "/account/api/set_active_medium",
        &[("service", ISP_SERVICE_ID), ("medium", link_id.as_str())],
    )
    .await?;
    ensure(
        html.contains("flash error") && html.contains("Only a valid card or bank account"),
        "refused in words",
    )?;
    ensure(
        isp_service(&app).await?.active_payment_method_id == Some(bank.id),
        "the active medium is unchanged",
    )
}

/// The pay form of a service's pay now page, as the page renders it, with `medium` chosen.
async fn pay_form(app: &TestApp, service: &str, medium: &str) -> Result<Vec<(String, String)>> {
    let html = page(app, &format!("/account/services/{service}/pay")).await?;
    let form = html_forms(&html)
        .into_iter()
        .find(|f| f.action == "/account/api/service_pay")
        .context("the pay form")?;
    let mut fields: Vec<(String, String)> =
        form.fields.into_iter().filter(|(name, _)| name != "medium").collect();
    fields.push(("medium".into(), medium.to_owned()));
    Ok(fields)
}

/// Posts a form's fields as the browser does; answers where it is sent.
async fn post_fields(app: &TestApp, action: &str, fields: &[(String, String)]) -> Result<String> {
    let form: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let response = app.post_form(action, &form).await?;
    ensure(response.status().is_redirection(), format!("{action}: {}", response.status()))?;
    let to = location(&response);
    Ok(to.strip_prefix(&app.base).unwrap_or(&to).to_owned())
}

pub async fn the_arrears_are_paid_with_the_saved_card_from_the_page(app: TestApp) -> Result<()> {
    let since = chrono::Utc::now() - chrono::Duration::seconds(1);
    app.log_in(CUSTOMER_EMAIL, CUSTOMER_PASSWORD, "/account").await?;
    let arrears = owed(&app).await?;
    let card = mediums(&app, MethodKind::Card).await?.remove(0);
    let fields = pay_form(&app, ISP_SERVICE_ID, &card.id.to_string()).await?;

    // Paid now: the result page, which says so and how long the service is paid for.
    let to = post_fields(&app, "/account/api/service_pay", &fields).await?;
    let result = format!("/account/services/{ISP_SERVICE_ID}/pay/{}/1", arrears.id);
    ensure(to == result, format!("to the result page: {to}"))?;
    let html = page(&app, &to).await?;
    ensure(html.contains("Payment received"), "the result page says it is paid")?;
    ensure(html.contains("Paid up until "), "and until when")?;
    ensure(app.paid_checkouts_since(since).await? == 1, "one charge at the sandbox")?;

    // The same form sent again (a double submit) charges nothing more.
    let again = post_fields(&app, "/account/api/service_pay", &fields).await?;
    ensure(again.starts_with(&format!("/account/services/{ISP_SERVICE_ID}/pay/")), "the result")?;
    ensure(app.paid_checkouts_since(since).await? == 1, "still one charge")?;

    // The account page: paid up, nothing to pay.
    let home = page(&app, "/account").await?;
    let card_html = home.split("service-card").find(|c| c.contains(ISP_SERVICE_ID)).unwrap_or("");
    ensure(card_html.contains("Paid up") && !card_html.contains(">Pay now<"), "paid up on the card")
}

pub async fn a_new_card_on_the_providers_page_comes_back_to_the_result_page(
    app: TestApp,
) -> Result<()> {
    use settle::demo::NEW_CARD_SERVICE_ID;

    app.log_in(CUSTOMER_EMAIL, CUSTOMER_PASSWORD, "/account").await?;
    let cards_before = mediums(&app, MethodKind::Card).await?.len();
    let fields = pay_form(&app, NEW_CARD_SERVICE_ID, ADD_NEW_METHOD_ID).await?;
    let purchase = fields.iter().find(|(k, _)| k == "purchase").context("purchase")?.1.clone();
    let to = post_fields(&app, "/account/api/service_pay", &fields).await?;
    ensure(to.contains("/sandbox/hosted-checkout/pay/"), format!("to the provider's page: {to}"))?;
    let back = app.answer_hosted_page(&app.url(&to), "Pay", None).await?;
    let back = back.strip_prefix(&app.base).unwrap_or(&back).to_owned();
    ensure(
        back.starts_with(&format!("/account/services/{NEW_CARD_SERVICE_ID}/pay/{purchase}/1")),
        format!("back on the result page: {back}"),
    )?;
    let html = page(&app, &back).await?;
    ensure(html.contains("Payment received"), "paid")?;
    ensure(
        mediums(&app, MethodKind::Card).await?.len() == cards_before + 1,
        "the new card is saved",
    )?;

    // Declined on the provider's page: the result page says so, whatever the address says.
    let fields = pay_form(&app, ISP_SERVICE_ID, ADD_NEW_METHOD_ID).await?;
    let to = post_fields(&app, "/account/api/service_pay", &fields).await?;
    let back = app.answer_hosted_page(&app.url(&to), "Decline", None).await?;
    let back = back.strip_prefix(&app.base).unwrap_or(&back).to_owned();
    ensure(back.ends_with("/0"), format!("a failure comes back as 0: {back}"))?;
    let html = page(&app, &format!("{}1", back.trim_end_matches('0'))).await?;
    ensure(
        html.contains("didn&#x27;t go through") || html.contains("didn't go through"),
        "a 1 doesn't make a declined payment paid",
    )
}

pub async fn a_7_day_bundle_is_bought_and_paid_from_the_pages(app: TestApp) -> Result<()> {
    use settle::demo::{LTE_7_DAY_PRICE_ID, LTE_SERVICE_ID, RECHARGE_CARD_ID};

    let since = chrono::Utc::now() - chrono::Duration::seconds(1);
    app.log_in(CUSTOMER_EMAIL, CUSTOMER_PASSWORD, "/account").await?;
    let before = Service::find_by_reference(&app.db, LTE_SERVICE_ID)
        .await?
        .context("the LTE service")?
        .period_end
        .context("a period")?;
    let home = page(&app, "/account").await?;
    let buy = format!("/account/services/{LTE_SERVICE_ID}/buy");
    ensure(home.contains(&format!("href=\"{buy}\"")), "the card links to buy now")?;

    // The options with their prices including tax; the form as the page renders it.
    let html = page(&app, &buy).await?;
    ensure(html.contains("7 Day bundle") && html.contains("ZAR 11.50"), "the 7-day bundle")?;
    let form = html_forms(&html)
        .into_iter()
        .find(|f| f.action == "/account/api/service_buy")
        .context("the buy form")?;
    ensure(form.fields.iter().any(|(k, v)| k == "option" && v == LTE_7_DAY_PRICE_ID), "option")?;
    let fields = [("service", LTE_SERVICE_ID), ("option", LTE_7_DAY_PRICE_ID), ("quantity", "3")];
    let (quote_page, html) = post_and_follow(&app, &form.action, &fields).await?;
    ensure(
        quote_page.starts_with(&format!("{buy}/")),
        format!("to the quote's pay page: {quote_page}"),
    )?;
    // Priced by the core: 3 × 10.00 + 15 % tax.
    for words in ["3 × 7 days", "ZAR 30.00", "ZAR 4.50", "Pay ZAR 34.50"] {
        ensure(html.contains(words), format!("the quote shows {words:?}"))?;
    }
    let quote = quote_page.rsplit('/').next().unwrap_or_default().to_owned();

    // Paid with the service's card: the result page, three weeks more.
    let pay =
        [("service", LTE_SERVICE_ID), ("purchase", quote.as_str()), ("medium", RECHARGE_CARD_ID)];
    let (result, html) = post_and_follow(&app, "/account/api/service_pay", &pay).await?;
    ensure(result.ends_with(&format!("/pay/{quote}/1")), format!("the result: {result}"))?;
    ensure(html.contains("Payment received") && html.contains("ZAR 34.50"), "paid")?;
    let after = Service::find_by_reference(&app.db, LTE_SERVICE_ID)
        .await?
        .context("the LTE service")?
        .period_end
        .context("a period")?;
    ensure(
        after - before == chrono::Duration::days(21),
        format!("21 days more: {before} → {after}"),
    )?;
    ensure(app.paid_checkouts_since(since).await? == 1, "one charge at the sandbox")?;

    // A quantity the scheme doesn't allow is refused in words on the buy page.
    let too_many =
        [("service", LTE_SERVICE_ID), ("option", LTE_7_DAY_PRICE_ID), ("quantity", "999")];
    let (back, html) = post_and_follow(&app, "/account/api/service_buy", &too_many).await?;
    ensure(back == buy && html.contains("flash error"), format!("refused: {back}"))
}

pub async fn a_card_is_updated_on_the_providers_page_and_back(app: TestApp) -> Result<()> {
    app.log_in(CUSTOMER_EMAIL, CUSTOMER_PASSWORD, "/account").await?;
    let card = mediums(&app, MethodKind::Card).await?.remove(0);
    let update = format!("/account/payment-methods/{}/update", card.id);
    // The card paying the service expired: its card on the account page says so.
    PaymentMethod::mark_expired(&app.db, &card.id).await?;
    let home = page(&app, "/account").await?;
    ensure(
        home.contains("update your card") && home.contains(&format!("href=\"{update}\"")),
        "the account page asks for a card update",
    )?;
    let html = page(&app, &update).await?;
    ensure(html.contains("Expired"), "the update page says the card expired")?;
    let form = html_forms(&html)
        .into_iter()
        .find(|f| f.action == "/account/api/card_update")
        .context("the card update form")?;
    let id = card.id.to_string();
    let response = app.post_form(&form.action, &[("medium", id.as_str())]).await?;
    ensure(response.status().is_redirection(), format!("answered {}", response.status()))?;
    let provider = location(&response);
    ensure(provider.contains("return="), format!("to the provider's page: {provider}"))?;

    // The provider's page: a new card, then back through Settle to the payment methods page.
    let page_html = app.client.get(&provider).send().await?.text().await?;
    let form = html_forms(&page_html).into_iter().next().context("the provider's form")?;
    let mut fields = form.submission("Save card")?;
    for (name, value) in &mut fields {
        if name == "card_number" {
            *value = "5555 5555 5555 4444".into();
        }
    }
    let done = app.client.post(&form.action).form(&fields).send().await?;
    let back = app.follow_from(location(&done)).await?;
    let back = back.strip_prefix(&app.base).unwrap_or(&back).to_owned();
    ensure(back == "/account/payment-methods", format!("back on the payment methods: {back}"))?;
    let methods = page(&app, &back).await?;
    ensure(methods.contains("ending 4444") && methods.contains("expires 12/30"), "the new card")?;
    let updated = PaymentMethod::find(&app.db, &card.id).await?.context("the card")?;
    ensure(updated.card_last4.as_deref() == Some("4444"), format!("stored: {updated:?}"))?;
    ensure(!page(&app, "/account").await?.contains("update your card"), "nothing to update now")?;

    // A medium that isn't a saved card has no update page.
    let link = mediums(&app, MethodKind::PaymentLink).await?.remove(0);
    let response = app.get(&format!("/account/payment-methods/{}/update", link.id)).await?;
    ensure(response.status() == 404, format!("a payment link: {}", response.status()))
}
