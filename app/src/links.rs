//! Every link and form target of the customer pages, built in one place so a page never spells
//! another page's address by hand.
//!
//! Policy numbers contain slashes (`DEMO/0001/MOTOR/WEB`), so they travel in the query, where a
//! `/` is legal and keeps them readable in the address bar; everything else is percent-encoded.

/// The customer's home page.
pub const ACCOUNT: &str = "/account";

/// The link to a policy's checkout page.
pub fn checkout_href(policy: &str) -> String {
    format!("/account/checkout?policy={}", query_value(policy))
}

/// The link to a policy's card payment page, through `gateway` if given.
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
    format!("/account/payments/{}", path_segment(reference))
}

/// The status page after `poll` reloads of its own.
pub fn status_poll_href(reference: &str, poll: u32) -> String {
    format!("{}?poll={poll}", status_href(reference))
}

/// The status page's "Check status": asks the gateway now.
pub fn status_check_href(reference: &str) -> String {
    format!("{}?check=1", status_href(reference))
}

/// The page that shows the bank's 3-D Secure check in a frame.
pub fn challenge_href(reference: &str) -> String {
    format!("{}/challenge", status_href(reference))
}

/// The page inside that frame: the form that takes the browser to the bank.
pub fn challenge_frame_href(reference: &str) -> String {
    format!("{}/challenge/frame", status_href(reference))
}

/// Settle's own page at the end of the bank's check, inside the frame.
pub fn challenge_complete_href(reference: &str) -> String {
    format!("{}/challenge/complete", status_href(reference))
}

/// A payment's tax invoice (PDF).
pub fn tax_invoice_href(reference: &str) -> String {
    format!("{}/tax-invoice.pdf", status_href(reference))
}

/// A payment's receipt (PDF).
pub fn receipt_href(reference: &str) -> String {
    format!("{}/receipt.pdf", status_href(reference))
}

/// The hosted pay page of an invoice (its public id), as reached from a merchant's payment link
/// that also names the invoice's product code and the merchant's reference (checked by the
/// page).
pub fn invoice_href(invoice: &str, product_code: &str, merchant_reference: &str) -> String {
    format!(
        "/account/invoices/{}?type={}&reference={}",
        path_segment(invoice),
        query_value(product_code),
        query_value(merchant_reference)
    )
}

/// An invoice's pay page without the link's checks (the page's own forms come back here).
pub fn invoice_page_href(invoice: &str) -> String {
    format!("/account/invoices/{}", path_segment(invoice))
}

/// The customer's payment methods page.
pub const PAYMENT_METHODS: &str = "/account/payment-methods";

/// The pay now page of an ISP service (by its id).
pub fn service_pay_href(service: &str) -> String {
    format!("/account/services/{}/pay", path_segment(service))
}

/// The buy now page of an ISP service: bundles or months ahead.
pub fn service_buy_href(service: &str) -> String {
    format!("/account/services/{}/buy", path_segment(service))
}

/// The page that pays a buy-now quote of a service (the core's priced purchase).
pub fn service_quote_href(service: &str, purchase: &str) -> String {
    format!("{}/{}", service_buy_href(service), path_segment(purchase))
}

/// The result page of paying `purchase` of a service; like the document's return URLs it ends
/// in `1` (the provider said it went through) or `0` (it didn't). The page believes only what
/// Settle knows of the payment, never the digit alone.
pub fn service_result_href(service: &str, purchase: &str, ok: bool) -> String {
    format!(
        "/account/services/{}/pay/{}/{}",
        path_segment(service),
        path_segment(purchase),
        if ok { 1 } else { 0 }
    )
}

/// The page that starts updating a saved card on the provider's page.
pub fn card_update_href(medium: &str) -> String {
    format!("{PAYMENT_METHODS}/{}/update", path_segment(medium))
}

/// A query value, percent-encoded except for `/`.
fn query_value(value: &str) -> String {
    url::form_urlencoded::byte_serialize(value.as_bytes()).collect::<String>().replace("%2F", "/")
}

/// A path segment: payment references are `PAY-` and capitals, but a hand-made one must not
/// break out of its segment.
fn path_segment(value: &str) -> String {
    url::form_urlencoded::byte_serialize(value.as_bytes()).collect()
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
        assert_eq!(card_href("P/1", None), "/account/checkout/card?policy=P/1");
    }

    #[test]
    fn payment_links_hang_off_the_status_page() {
        assert_eq!(status_href("PAY-0123"), "/account/payments/PAY-0123");
        assert_eq!(status_href("a/b?c"), "/account/payments/a%2Fb%3Fc");
        assert_eq!(status_poll_href("PAY-1", 3), "/account/payments/PAY-1?poll=3");
        assert_eq!(status_check_href("PAY-1"), "/account/payments/PAY-1?check=1");
        assert_eq!(challenge_href("PAY-1"), "/account/payments/PAY-1/challenge");
        assert_eq!(challenge_frame_href("PAY-1"), "/account/payments/PAY-1/challenge/frame");
        assert_eq!(challenge_complete_href("PAY-1"), "/account/payments/PAY-1/challenge/complete");
        assert_eq!(tax_invoice_href("PAY-1"), "/account/payments/PAY-1/tax-invoice.pdf");
        assert_eq!(receipt_href("PAY-1"), "/account/payments/PAY-1/receipt.pdf");
    }

    #[test]
    fn pay_now_links_hang_off_the_service() {
        let id = "E14C231D-5899-44BE-B7A1-AA46893C8D83";
        assert_eq!(service_pay_href(id), format!("/account/services/{id}/pay"));
        assert_eq!(service_buy_href(id), format!("/account/services/{id}/buy"));
        assert_eq!(service_quote_href(id, "q-1"), format!("/account/services/{id}/buy/q-1"));
        assert_eq!(
            service_result_href(id, "P-1", true),
            format!("/account/services/{id}/pay/P-1/1")
        );
        assert_eq!(service_result_href("a/b", "c", false), "/account/services/a%2Fb/pay/c/0");
        assert_eq!(card_update_href("m-1"), "/account/payment-methods/m-1/update");
    }
}
