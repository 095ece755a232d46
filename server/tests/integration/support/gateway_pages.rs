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
    /// Answers a hosted checkout page with `button` ("Pay", "Decline", "Cancel"), with `card`
    /// typed over the pre-filled test card if given, and follows the browser back through
    /// Settle's redirects until it leaves Settle; returns that last address.
    pub async fn answer_hosted_page(
        &self,
        page_url: &str,
        button: &str,
        card: Option<&str>,
    ) -> Result<String> {
        let html = self.client.get(page_url).send().await?.text().await?;
        let form = html_forms(&html)
            .into_iter()
            .find(|f| f.action.contains("/pay/"))
            .context("the hosted page's form")?;
        let mut fields = form.submission(button)?;
        if let Some(card) = card {
            for (name, value) in &mut fields {
                if name == "card_number" {
                    *value = card.to_owned();
                }
            }
        }
        let answered = self.client.post(&form.action).form(&fields).send().await?;
        self.follow_from(crate::support::location(&answered)).await
    }

    /// Follows redirects (without a body) from `location` while they stay on this server, and
    /// returns the first address elsewhere (or the last one here).
    pub async fn follow_from(&self, mut location: String) -> Result<String> {
        for _ in 0..10 {
            let here =
                if location.starts_with('/') { self.url(&location) } else { location.clone() };
            if !here.starts_with(&self.base) {
                return Ok(location);
            }
            let response = self.client.get(&here).send().await?;
            if !response.status().is_redirection() {
                return Ok(location);
            }
            location = crate::support::location(&response);
        }
        anyhow::bail!("more than 10 redirects, last {location}")
    }
}
