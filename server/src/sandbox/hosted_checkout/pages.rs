//! The sandbox hosted-checkout provider's pages in the customer's browser: the payment page and
//! its answer, which sends the browser back to the merchant.

use axum::Form;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use serde::Deserialize;
use settle::card::CardNumber;

use super::*;
use crate::sandbox::html::{self, escape};

/// `GET /pay/{id}`: the hosted page.
pub(super) async fn pay_page(State(provider): State<Provider>, Path(id): Path<String>) -> Response {
    let found = provider.books().payments.get(&id).cloned();
    match found {
        Some(p) if p.return_url.is_some() => page(StatusCode::OK, &provider, &p, None),
        _ => not_found_page(),
    }
}

#[derive(Deserialize)]
pub(super) struct PayForm {
    /// `pay`, `decline` or `cancel`; absent when a merchant's form brings the browser here.
    #[serde(default)]
    action: String,
    #[serde(default)]
    card_number: String,
}

/// `POST /pay/{id}`: the customer's choice. A finished checkout stays as it is (a double
/// submit, or the back button), and the browser goes back to the merchant with its outcome.
/// Without a choice it is the way in: a merchant's page posts its form here (as hosted
/// checkouts are entered by a form post) and the browser gets the payment page.
pub(super) async fn pay_submit(
    State(provider): State<Provider>,
    Path(id): Path<String>,
    Form(form): Form<PayForm>,
) -> Response {
    if form.action.is_empty() {
        return pay_page(State(provider), Path(id)).await;
    }
    let finished = {
        let mut books = provider.books();
        let Some(payment) = books.payments.get(&id).filter(|p| p.return_url.is_some()).cloned()
        else {
            return not_found_page();
        };
        if payment.status != Status::Pending {
            return back_to_merchant(&payment);
        }
        let card = CardNumber::parse(&form.card_number);
        let (status, reason) = match form.action.as_str() {
            "pay" => match &card {
                Err(e) => {
                    let message = format!("The card number {}.", e.message);
                    return page(
                        StatusCode::UNPROCESSABLE_ENTITY,
                        &provider,
                        &payment,
                        Some(&message),
                    );
                }
                Ok(number) if number.expose_digits() == DECLINED_CARD.replace(' ', "") => {
                    (Status::Failed, Some("declined by the issuer: insufficient funds"))
                }
                Ok(_) => (Status::Succeeded, None),
            },
            "decline" => (Status::Failed, Some("declined by the issuer")),
            "cancel" => (Status::Cancelled, Some("cancelled by the customer")),
            _ => {
                return error(StatusCode::BAD_REQUEST, "action must be pay, decline or cancel")
                    .into_response();
            }
        };
        // A cancelled checkout never saw a card; the others say which card was tried.
        let saved = match (&card, status) {
            (Ok(number), Status::Succeeded | Status::Failed) => Some(SavedCard {
                brand: number.brand().name().to_owned(),
                last4: number.last4().to_owned(),
            }),
            _ => None,
        };
        let token = match (&saved, status) {
            (Some(card), Status::Succeeded) if payment.save_card => {
                let token = new_id("tok");
                books.tokens.insert(token.clone(), card.clone());
                Some(token)
            }
            _ => None,
        };
        let Some(stored) = books.payments.get_mut(&id) else {
            return not_found_page();
        };
        stored.status = status;
        stored.failure_reason = reason.map(str::to_owned);
        stored.card = saved;
        stored.card_token = token;
        stored.completed_at = Some(Utc::now());
        stored.clone()
    };
    provider.notify(&finished);
    back_to_merchant(&finished)
}

/// `303` to the merchant's return URL with `checkout_id`, `merchant_reference` and `status`
/// added to its query.
fn back_to_merchant(p: &Payment) -> Response {
    let Some(mut url) = p.return_url.clone() else {
        return not_found_page();
    };
    url.query_pairs_mut()
        .append_pair("checkout_id", &p.id)
        .append_pair("merchant_reference", &p.merchant_reference)
        .append_pair("status", p.status.as_str());
    (StatusCode::SEE_OTHER, [(header::LOCATION, url.to_string())]).into_response()
}

/// A hosted-checkout page: the sandbox's frame, marked as the hosted checkout's.
fn framed(status: StatusCode, title: &str, content: &str) -> Response {
    let content = format!("<p><span class=\"tag\">Sandbox hosted checkout</span></p>\n{content}");
    html::page(status, "Sandbox checkout", title, &content)
}

fn page(status: StatusCode, provider: &Provider, p: &Payment, problem: Option<&str>) -> Response {
    let amount = format!("{} {}", decimal(p.amount), p.amount.currency().code());
    let summary = format!(
        r#"<h1>Pay {amount}</h1>
<dl class="stats">
<div><dt>Merchant reference</dt><dd><code>{reference}</code></dd></div>
<div><dt>Amount</dt><dd class="num">{amount}</dd></div>
</dl>
{description}"#,
        amount = escape(&amount),
        reference = escape(&p.merchant_reference),
        description = if p.description.is_empty() {
            String::new()
        } else {
            format!("<p class=\"lead\">{}</p>", escape(&p.description))
        },
    );
    if p.status != Status::Pending {
        let content = format!(
            r#"{summary}
<p class="flash {class}">This payment is {status}.</p>"#,
            class = if p.status == Status::Succeeded { "success" } else { "error" },
            status = p.status.as_str(),
        );
        return framed(status, "Payment finished", &content);
    }
    let problem = problem
        .map(|m| format!("<p class=\"flash error\" role=\"alert\">{}</p>\n", escape(m)))
        .unwrap_or_default();
    let content = format!(
        r#"{summary}
{problem}<form method="post" action="{action}">
<label>Card number
<input name="card_number" value="{card}" inputmode="numeric" autocomplete="off" required>
</label>
<p>Test cards: <code>{card}</code> pays, <code>{declined}</code> is declined.</p>
<p>
<button type="submit" name="action" value="pay">Pay</button>
<button type="submit" name="action" value="decline">Decline</button>
<button type="submit" name="action" value="cancel" class="link" formnovalidate>Cancel</button>
</p>
</form>"#,
        action = escape(&provider.pay_page_url(&p.id)),
        card = TEST_CARD,
        declined = DECLINED_CARD,
    );
    framed(status, &format!("Pay {amount}"), &content)
}

fn not_found_page() -> Response {
    framed(
        StatusCode::NOT_FOUND,
        "No such checkout",
        "<h1>No such checkout</h1>\n<p>This checkout does not exist or has expired.</p>",
    )
}
