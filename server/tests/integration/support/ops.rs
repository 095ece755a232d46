//! Staff and customer browsers for the back-office tests: each role signed in on a client of its
//! own, and a form posted from one of our pages on such a client.

use anyhow::{Result, bail};
use reqwest::{Client, Response};

use super::{TestApp, browser, location};

/// The demo logins: (email, password, home page) of each role that uses pages.
pub const ADMIN: (&str, &str, &str) = ("admin@settle.test", "settle-admin", "/admin");
/// The demo operator.
pub const OPERATOR: (&str, &str, &str) = ("operator@settle.test", "settle-operator", "/operator");
/// The demo customer.
pub const CUSTOMER: (&str, &str, &str) = ("customer@settle.test", "settle-customer", "/account");

impl TestApp {
    /// A new browser signed in as `login` (one of [`ADMIN`], [`OPERATOR`], [`CUSTOMER`]).
    pub async fn signed_in(&self, login: (&str, &str, &str)) -> Result<Client> {
        let (email, password, home) = login;
        let client = browser();
        let form = [("email", email), ("password", password)];
        let response = self.post_form_with(&client, "/api/auth/login", &form).await?;
        if response.status() != 302 || location(&response) != home {
            bail!("login as {email}: {} -> {:?}", response.status(), location(&response));
        }
        Ok(client)
    }

    /// GET `path` as a browser on `client`, the body read.
    pub async fn page_on(&self, client: &Client, path: &str) -> Result<(u16, String)> {
        let response = client.get(self.url(path)).header("accept", "text/html").send().await?;
        let status = response.status().as_u16();
        Ok((status, response.text().await?))
    }

    /// Posts `form` to server function `path` from page `page` on `client` (as a browser without
    /// script does).
    pub async fn post_from(
        &self,
        client: &Client,
        page: &str,
        path: &str,
        form: &[(&str, &str)],
    ) -> Result<Response> {
        Ok(client
            .post(self.url(path))
            .headers(self.same_origin_headers(page))
            .form(form)
            .send()
            .await?)
    }
}
