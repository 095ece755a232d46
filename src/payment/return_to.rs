//! How a payment sends its customer back to the client that started it, with the outcome: the
//! rule the client named, kept with the payment, so the return (shared by every flow) needs no
//! knowledge of the client.

use serde::{Deserialize, Serialize};
use url::Url;

use crate::payment::Payment;

/// How a customer is sent back to the client, with the outcome.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "rule", rename_all = "snake_case")]
pub enum ReturnTo {
    /// Back to `url` with `reference`, `status` (the state's name) and `payment_status` (its
    /// code) added to the query.
    AppendOutcome {
        /// The client's URL.
        url: Url,
    },
    /// Back to `url` with `placeholder` replaced by `ok` on success and `ko` otherwise.
    ReplacePlaceholder {
        /// The client's URL, with the placeholder in it.
        url: String,
        /// What to replace (`__RESULT__`).
        placeholder: String,
    },
    /// To `success` when the payment succeeded, to `failure` otherwise; with `carry_reference`,
    /// `token=<reference>` is added to the query (Settle's own collection return needs it to
    /// tell which payment came back).
    SuccessOrFailure {
        /// Where a paid customer goes.
        success: Url,
        /// Where everyone else goes.
        failure: Url,
        /// Whether the payment's reference goes along.
        #[serde(default)]
        carry_reference: bool,
    },
    /// To `url` once the payment succeeded; until then the customer stays on Settle's own
    /// pages, where a failed payment can be tried again (an invoice's "redirection URL after a
    /// successful payment").
    AfterSuccess {
        /// Where a paid customer goes.
        url: Url,
    },
}

impl ReturnTo {
    /// Where the customer goes now that `payment` is as it is: a payment not settled yet counts
    /// as not successful (the client can check, and the customer can't be charged twice).
    /// `None`: Settle's own status page of the payment.
    pub fn url_for(&self, payment: &Payment) -> Option<String> {
        let paid = payment.state.is_success();
        match self {
            ReturnTo::AfterSuccess { url } => paid.then(|| url.to_string()),
            other => Some(other.client_url(payment, paid)),
        }
    }

    fn client_url(&self, payment: &Payment, paid: bool) -> String {
        match self {
            ReturnTo::AppendOutcome { url } => {
                let mut url = url.clone();
                url.query_pairs_mut()
                    .append_pair("reference", &payment.reference)
                    .append_pair("status", payment.state.name())
                    .append_pair("payment_status", &payment.state.code().to_string());
                url.to_string()
            }
            ReturnTo::ReplacePlaceholder { url, placeholder } => {
                url.replace(placeholder.as_str(), if paid { "ok" } else { "ko" })
            }
            ReturnTo::SuccessOrFailure { success, failure, carry_reference } => {
                let mut url = if paid { success.clone() } else { failure.clone() };
                if *carry_reference {
                    url.query_pairs_mut().append_pair("token", &payment.reference);
                }
                url.to_string()
            }
            ReturnTo::AfterSuccess { url } => url.to_string(),
        }
    }

    /// The URLs the rule may send a customer to (each must be on a registered origin).
    pub fn urls(&self) -> Vec<String> {
        match self {
            ReturnTo::AppendOutcome { url } => vec![url.to_string()],
            ReturnTo::ReplacePlaceholder { url, placeholder } => {
                vec![
                    url.replace(placeholder.as_str(), "ok"),
                    url.replace(placeholder.as_str(), "ko"),
                ]
            }
            ReturnTo::SuccessOrFailure { success, failure, .. } => {
                vec![success.to_string(), failure.to_string()]
            }
            ReturnTo::AfterSuccess { url } => vec![url.to_string()],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::money::{Currency, Money};
    use crate::payment::PaymentState;
    use crate::purchase::PurchaseId;

    fn payment(state: PaymentState) -> Payment {
        let mut p =
            Payment::new(PurchaseId::from_string("p"), "g", Money::from_minor(100, Currency::ZAR));
        p.state = state;
        p.reference = "PAY-1".into();
        p
    }

    #[test]
    fn each_rule_carries_the_outcome_its_client_expects() {
        let append =
            ReturnTo::AppendOutcome { url: Url::parse("http://shop.test/done?cart=7").unwrap() };
        assert_eq!(
            append.url_for(&payment(PaymentState::PolicyConverted)).unwrap(),
            "http://shop.test/done?cart=7&reference=PAY-1&status=POLICY_CONVERTED&payment_status=11"
        );
        let placeholder = ReturnTo::ReplacePlaceholder {
            url: "http://shop.test/back/__RESULT__?x=1".into(),
            placeholder: "__RESULT__".into(),
        };
        assert_eq!(
            placeholder.url_for(&payment(PaymentState::PaymentSuccess)).unwrap(),
            "http://shop.test/back/ok?x=1"
        );
        assert_eq!(
            placeholder.url_for(&payment(PaymentState::Cancelled)).unwrap(),
            "http://shop.test/back/ko?x=1"
        );
        assert_eq!(
            placeholder.url_for(&payment(PaymentState::Processing)).unwrap(),
            "http://shop.test/back/ko?x=1"
        );
        let split = ReturnTo::SuccessOrFailure {
            success: Url::parse("http://shop.test/1").unwrap(),
            failure: Url::parse("http://shop.test/0").unwrap(),
            carry_reference: false,
        };
        assert_eq!(
            split.url_for(&payment(PaymentState::PolicyConverted)).unwrap(),
            "http://shop.test/1"
        );
        assert_eq!(
            split.url_for(&payment(PaymentState::PaymentFailed)).unwrap(),
            "http://shop.test/0"
        );
        let carried = ReturnTo::SuccessOrFailure {
            success: Url::parse("http://settle.test/peach-redirect/c?url=http://ui.test/1")
                .unwrap(),
            failure: Url::parse("http://settle.test/peach-redirect/c?url=http://ui.test/0")
                .unwrap(),
            carry_reference: true,
        };
        assert_eq!(
            carried.url_for(&payment(PaymentState::PaymentFailed)).unwrap(),
            "http://settle.test/peach-redirect/c?url=http://ui.test/0&token=PAY-1"
        );
        let after =
            ReturnTo::AfterSuccess { url: Url::parse("https://merchant-url.com/").unwrap() };
        assert_eq!(
            after.url_for(&payment(PaymentState::PolicyConverted)).as_deref(),
            Some("https://merchant-url.com/")
        );
        assert_eq!(after.url_for(&payment(PaymentState::PaymentFailed)), None, "stays to retry");
        assert_eq!(after.url_for(&payment(PaymentState::Processing)), None);
    }

    #[test]
    fn rules_are_stored_as_json() {
        let rule = ReturnTo::ReplacePlaceholder {
            url: "http://a.test/__R__".into(),
            placeholder: "__R__".into(),
        };
        let json = serde_json::to_string(&rule).unwrap();
        assert!(json.contains("\"rule\":\"replace_placeholder\""), "{json}");
        assert_eq!(serde_json::from_str::<ReturnTo>(&json).unwrap(), rule);
    }
}
