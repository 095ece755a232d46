//! A customer's steps on the sandbox gateways' own pages: the issuer's 3-D Secure check and a
//! hosted checkout's "Pay" button.

use anyhow::{Context, Result};
use reqwest::Client;

use super::{HtmlForm, TestApp, html_forms};

impl TestApp {
    /// Takes `browser` through the issuer's check (seed 003's form posted to `acsurl`, then the
    /// issuer's `answer` button: "Authenticate" or "Fail authentication") and returns the form
    /// the issuer's last page posts back to Settle.
    pub async fn answer_challenge(
        &self,
        browser: &Client,
        acsurl: &str,
        creq: &str,
        session: &str,
        answer: &str,
    ) -> Result<HtmlForm> {
        let page = browser
            .post(acsurl)
            .form(&[("creq", creq), ("threeDSSessionData", session)])
            .send()
            .await?
            .text()
            .await?;
        let form = html_forms(&page).into_iter().next().context("the issuer's form")?;
        let answered = browser.post(&form.action).form(&form.submission(answer)?).send().await?;
        html_forms(&answered.text().await?).into_iter().next().context("the form back to Settle")
    }

    /// Presses "Pay" on a hosted checkout page, if the page still offers it.
    pub async fn pay_on_hosted_page(&self, page_url: &str) -> Result<()> {
        let html = self.client.get(page_url).send().await?.text().await?;
        if let Some(form) = html_forms(&html).into_iter().find(|f| f.action.contains("/pay/")) {
            let fields = form.submission("Pay").unwrap_or_default();
            let action = if form.action.starts_with("http") {
                form.action.clone()
            } else {
                self.url(&form.action)
            };
            self.client.post(action).form(&fields).send().await?;
        }
        Ok(())
    }
}
