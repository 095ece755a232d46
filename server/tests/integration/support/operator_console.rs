//! The operator console as a browser without script uses it: post a console form, follow the
//! redirect, read a page's field messages and the secrets shown once.

use anyhow::{Context, Result, bail};

use super::{TestApp, ensure, location};

/// A merchant registered through the console, with the secrets shown once.
#[derive(Clone, Debug)]
pub struct RegisteredMerchant {
    pub id: String,
    /// Its client id, as registered.
    pub client_id: String,
    pub client_secret: String,
    pub webhook_secret: Option<String>,
}

/// The text of the element with this id (`<code class="secret" id="client-secret">…</code>`)
/// on a page, if it is there.
pub fn shown_secret(html: &str, id: &str) -> Option<String> {
    let at = html.find(&format!(r#"id="{id}""#))?;
    let start = at + html[at..].find('>')? + 1;
    let end = html[start..].find('<')?;
    Some(html[start..start + end].trim().to_owned())
}

/// A page's HTML with the entities our pages use for quotes put back, so a test can look for
/// a message as it is written.
pub fn unescaped(html: &str) -> String {
    html.replace("<!>", "")
        .replace("&#x27;", "'")
        .replace("&#39;", "'")
        .replace("&quot;", "\"")
        .replace("&amp;", "&")
}

impl TestApp {
    /// Another browser (own cookie jar) on the same server and database.
    pub fn another_browser(&self) -> TestApp {
        TestApp {
            base: self.base.clone(),
            client: super::browser(),
            db: self.db.clone(),
            backend: self.backend,
            state: self.state.clone(),
        }
    }

    /// Posts a console form (`/operator/api/{endpoint}`) and answers where it redirected to.
    pub async fn console_post(&self, endpoint: &str, form: &[(&str, &str)]) -> Result<String> {
        let path = format!("/operator/api/{endpoint}");
        let response = self.post_form(&path, form).await?;
        if !response.status().is_redirection() {
            let status = response.status();
            bail!("{path} answered {status}: {}", response.text().await.unwrap_or_default());
        }
        Ok(location(&response))
    }

    /// Posts a console form, follows its redirect and answers the page's HTML.
    pub async fn console_post_then_page(
        &self,
        endpoint: &str,
        form: &[(&str, &str)],
    ) -> Result<(String, String)> {
        let to = self.console_post(endpoint, form).await?;
        let page = self.get(&to).await?;
        ensure(page.status() == 200, format!("{to} answered {}", page.status()))?;
        Ok((to, unescaped(&page.text().await?)))
    }

    /// Registers a merchant on the merchants page (as a logged-in operator) and reads its
    /// secrets off the page that shows them once.
    pub async fn register_merchant(
        &self,
        name: &str,
        client_id: &str,
        webhook_url: &str,
        origins: &str,
    ) -> Result<RegisteredMerchant> {
        let form = [
            ("name", name),
            ("client_id", client_id),
            ("webhook_url", webhook_url),
            ("return_origins", origins),
        ];
        let (to, html) = self.console_post_then_page("merchant_create", &form).await?;
        let id = to
            .strip_prefix("/operator/merchants/")
            .and_then(|rest| rest.strip_suffix("/secret"))
            .with_context(|| format!("registering went to {to}"))?
            .to_owned();
        let client_secret =
            shown_secret(&html, "client-secret").context("the client secret is shown")?;
        Ok(RegisteredMerchant {
            id,
            client_id: client_id.to_owned(),
            client_secret,
            webhook_secret: shown_secret(&html, "webhook-secret"),
        })
    }

    /// Whether a client-credentials token request with these credentials succeeds.
    pub async fn client_credentials_work(&self, client_id: &str, secret: &str) -> Result<bool> {
        let form = [
            ("grant_type", "client_credentials"),
            ("client_id", client_id),
            ("client_secret", secret),
        ];
        let response = self.new_client().post(self.url("/oauth/token")).form(&form).send().await?;
        Ok(response.status() == 200)
    }

    /// The id of the account with this email.
    pub async fn user_id(&self, email: &str) -> Result<String> {
        let users = settle::account::User::list(&self.db, 10_000).await?;
        users
            .into_iter()
            .find(|u| u.email.as_str() == email)
            .map(|u| u.id.to_string())
            .with_context(|| format!("no account for {email}"))
    }

    /// How many audit entries have this action.
    pub async fn audit_count(&self, action: &str) -> Result<i64> {
        let sql = "SELECT COUNT(*) FROM audit_log WHERE action = $1";
        Ok(
            settle::with_db!(&self.db, pool => sqlx::query_scalar(sql).bind(action).fetch_one(pool).await)?,
        )
    }
}
