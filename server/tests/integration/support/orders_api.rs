//! A merchant system's steps on the orders API (`api/v1/payments/...`) and the sandbox records
//! its tests count: orders, totals, payment methods, the 202 form taken through the hosted
//! checkout as a browser would, the bank's settlement delay, the acquirer's charges.

use anyhow::{Context, Result, bail};
use reqwest::Method;
use serde_json::Value;

use super::{TestApp, browser, ensure, html_forms, location};
use crate::api_client::Answer;

impl TestApp {
    /// `POST api/v1/payments/orders` with a JSON body, as `token`'s merchant.
    pub async fn create_order(&self, token: &str, order: &Value) -> Result<Answer> {
        self.call(Method::POST, "/api/v1/payments/orders", Some(token), Some(order), None).await
    }

    /// `GET api/v1/payments/orders/total` with these query parameters.
    pub async fn orders_total(&self, token: &str, query: &[(&str, &str)]) -> Result<Answer> {
        let query = serde_urlencoded::to_string(query)?;
        let path = format!("/api/v1/payments/orders/total?{query}");
        self.call(Method::GET, &path, Some(token), None, None).await
    }

    /// The paid total for these filters (which must be valid: a 200 is expected).
    pub async fn paid_total(&self, token: &str, query: &[(&str, &str)]) -> Result<i64> {
        let answer = self.orders_total(token, query).await?;
        ensure(answer.status == 200, format!("total {query:?}: {answer:?}"))?;
        answer.body["amount"].as_i64().with_context(|| format!("an amount in {}", answer.body))
    }

    /// `GET api/v1/payments/payment_methods/{number}`, expected to be found.
    pub async fn payment_method_view(&self, token: &str, number: i64) -> Result<Value> {
        let path = format!("/api/v1/payments/payment_methods/{number}");
        let answer = self.call(Method::GET, &path, Some(token), None, None).await?;
        ensure(answer.status == 200, format!("method {number}: {answer:?}"))?;
        Ok(answer.body)
    }

    /// Takes a 202's `form` as a browser would: posts its fields to its `action`, presses
    /// `button` ("Pay", "Decline" or "Cancel") on the gateway's page, and follows the redirects
    /// back; answers the URL the browser lands on outside Settle (the client's `return_url`).
    pub async fn through_order_form(&self, form: &Value, button: &str) -> Result<String> {
        let browser = browser();
        let action = form["action"].as_str().context("form.action")?;
        let fields: Vec<(String, String)> = form["fields"]
            .as_object()
            .context("form.fields")?
            .iter()
            .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_owned()))
            .collect();
        let page = browser.post(action).form(&fields).send().await?;
        ensure(page.status() == 200, format!("the form's action answers {}", page.status()))?;
        let html = page.text().await?;
        let pay = html_forms(&html)
            .into_iter()
            .find(|f| f.action.contains("/pay/"))
            .context("the gateway's payment form")?;
        let mut response = browser.post(&pay.action).form(&pay.submission(button)?).send().await?;
        for _ in 0..5 {
            ensure(response.status().is_redirection(), format!("{} answered", response.status()))?;
            let next = location(&response);
            let next = if next.starts_with('/') { self.url(&next) } else { next };
            if !next.starts_with(&self.base) {
                return Ok(next);
            }
            response = browser.get(&next).send().await?;
        }
        bail!("the browser never left Settle")
    }

    /// Sets how long the sandbox bank takes to settle or bounce a collection.
    pub async fn bank_settles_after(&self, ms: u64) -> Result<()> {
        let response = self
            .client
            .put(self.url("/sandbox/bank/settings"))
            .json(&serde_json::json!({ "settle_after_ms": ms }))
            .send()
            .await?;
        ensure(response.status() == 200, format!("bank settings answered {}", response.status()))
    }

    /// The card acquirer's own records: the transactions it authorised (money taken) since
    /// `since`.
    pub async fn card_charges_since(&self, since: chrono::DateTime<chrono::Utc>) -> Result<usize> {
        let listed = self.sandbox_since("card/transactions", "transactions", since).await?;
        Ok(listed.iter().filter(|t| t["status"] == "Ok").count())
    }

    /// The hosted checkout's own records: the checkouts paid since `since`.
    pub async fn paid_checkouts_since(
        &self,
        since: chrono::DateTime<chrono::Utc>,
    ) -> Result<usize> {
        let listed = self.sandbox_since("hosted-checkout/checkouts", "checkouts", since).await?;
        Ok(listed.iter().filter(|c| c["status"] == "succeeded").count())
    }

    /// A sandbox provider's list (`/sandbox/{path}?since=…`), newest first.
    async fn sandbox_since(
        &self,
        path: &str,
        key: &str,
        since: chrono::DateTime<chrono::Utc>,
    ) -> Result<Vec<Value>> {
        let response = self
            .client
            .get(self.url(&format!("/sandbox/{path}")))
            .query(&[("since", since.to_rfc3339())])
            .bearer_auth("test")
            .send()
            .await?;
        let body: Value = response.json().await?;
        body[key].as_array().cloned().with_context(|| format!("no {key:?} in {body}"))
    }
}
