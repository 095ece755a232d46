//! The operator console as a browser without script uses it: pages read, forms posted and
//! their redirects followed.

use anyhow::{Result, bail};

use super::{TestApp, location};

impl TestApp {
    /// A page this client may see (200), as HTML without Leptos's `<!>` text-node markers (so
    /// a label and its message read as one sentence).
    pub async fn page_html(&self, path: &str) -> Result<String> {
        let response = self.get(path).await?;
        let status = response.status();
        let html = response.text().await?.replace("<!>", "");
        if status != 200 {
            bail!("{path}: {status}");
        }
        Ok(html)
    }

    /// Posts a form, checks it is answered with a redirect and follows it: the page it lands
    /// on (its path and body).
    pub async fn post_follow(
        &self,
        action: &str,
        form: &[(&str, &str)],
    ) -> Result<(String, String)> {
        let response = self.post_form(action, form).await?;
        let status = response.status();
        if !status.is_redirection() {
            bail!("{action} answered {status}, not a redirect: {}", response.text().await?);
        }
        let to = location(&response);
        let path = to.strip_prefix(&self.base).unwrap_or(&to).to_owned();
        let html = self.page_html(&path).await?;
        Ok((path, html))
    }

    /// The audit log's entries about `subject`: (action, actor, detail), oldest first.
    pub async fn audit_of(&self, subject: &str) -> Result<Vec<(String, String, String)>> {
        let sql = "SELECT action, actor, detail FROM audit_log WHERE subject = $1 ORDER BY id";
        Ok(
            settle::with_db!(&self.db, pool => sqlx::query_as(sql).bind(subject).fetch_all(pool).await)?,
        )
    }
}
