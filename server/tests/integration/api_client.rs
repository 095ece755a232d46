//! What tests do over Settle's APIs, written once on [`TestApp`]: tokens, JSON calls, sandbox
//! faults, the ledger check, and a second customer and merchant for access tests.

use anyhow::{Context, Result, bail};
use reqwest::Method;
use serde_json::{Value, json};
use settle::demo::{CUSTOMER_EMAIL, CUSTOMER_PASSWORD, MERCHANT_CLIENT_ID, MERCHANT_CLIENT_SECRET};
use settle::ledger::LedgerReport;

use crate::support::{TestApp, ensure};

/// The answer of an API call: status and JSON body (`null` when there is none).
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub body: Value,
    pub headers: reqwest::header::HeaderMap,
}

impl Answer {
    /// The fields a refusal names (`errors[].field`), in order.
    pub fn error_fields(&self) -> Vec<&str> {
        let errors = self.body["errors"].as_array().into_iter().flatten();
        errors.filter_map(|e| e["field"].as_str()).collect()
    }
}

/// A second customer with their own policy (a seed 003 quote), their login and a token through
/// the demo merchant's client.
pub struct OtherCustomer {
    pub email: String,
    pub password: String,
    pub token: String,
    pub policy_number: String,
}

impl TestApp {
    /// A token for the demo merchant's system (client credentials).
    pub async fn merchant_token(&self) -> Result<String> {
        self.client_token(MERCHANT_CLIENT_ID, MERCHANT_CLIENT_SECRET).await
    }

    /// A client-credentials token for any merchant.
    pub async fn client_token(&self, client_id: &str, secret: &str) -> Result<String> {
        let form = [
            ("grant_type", "client_credentials"),
            ("client_id", client_id),
            ("client_secret", secret),
        ];
        self.token_from(&form).await
    }

    /// The demo customer's token through the demo merchant's (public) client.
    pub async fn customer_token(&self) -> Result<String> {
        self.password_token(CUSTOMER_EMAIL, CUSTOMER_PASSWORD).await
    }

    /// A password-grant token through the demo merchant's client.
    pub async fn password_token(&self, email: &str, password: &str) -> Result<String> {
        let form = [
            ("grant_type", "password"),
            ("username", email),
            ("password", password),
            ("client_id", MERCHANT_CLIENT_ID),
        ];
        self.token_from(&form).await
    }

    async fn token_from(&self, form: &[(&str, &str)]) -> Result<String> {
        let response = self.client.post(self.url("/oauth/token")).form(form).send().await?;
        let status = response.status();
        let body: Value = response.json().await?;
        match body["access_token"].as_str() {
            Some(token) => Ok(token.to_owned()),
            None => bail!("no token ({status}): {body}"),
        }
    }

    /// A JSON API call with an optional bearer token, body and idempotency key.
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<&Value>,
        key: Option<&str>,
    ) -> Result<Answer> {
        let mut request =
            self.client.request(method, self.url(path)).header("accept", "application/json");
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        if let Some(key) = key {
            request = request.header("idempotency-key", key);
        }
        let response = request.send().await?;
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let text = response.text().await?;
        let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
        Ok(Answer { status, body, headers })
    }

    /// Sets a sandbox provider's faults (`card`, `hosted-checkout`, `bank`, `apple-pay`).
    pub async fn set_faults(&self, provider: &str, faults: Value) -> Result<()> {
        let response = self
            .client
            .put(self.url(&format!("/sandbox/faults/{provider}")))
            .json(&faults)
            .send()
            .await?;
        ensure(
            response.status() == 200,
            format!("setting {provider} faults: {}", response.status()),
        )
    }

    /// Clears a sandbox provider's faults.
    pub async fn reset_faults(&self, provider: &str) -> Result<()> {
        let path = format!("/sandbox/faults/{provider}");
        let response = self.client.delete(self.url(&path)).send().await?;
        ensure(
            response.status() == 204,
            format!("clearing {provider} faults: {}", response.status()),
        )
    }

    /// The ledger check over the last hour, with attempts unsettled for 30 s or more in doubt.
    pub async fn ledger(&self) -> Result<LedgerReport> {
        let since = chrono::Utc::now() - chrono::Duration::hours(1);
        Ok(settle::ledger::check(&self.state.payments, since, std::time::Duration::from_secs(30))
            .await?)
    }

    /// How many charges (money taken, not given back) the gateways hold for a payment
    /// reference, as the gateways report them.
    pub async fn charges_for(&self, payment_references: &[String]) -> Result<usize> {
        let since = chrono::Utc::now() - chrono::Duration::hours(1);
        let listed = settle::ledger::charges(&self.state.payments, since).await?;
        Ok(listed
            .charges
            .iter()
            .filter(|(_, c)| payment_references.contains(&c.payment_reference))
            .filter(|(_, c)| c.captured.minor() > c.refunded.minor())
            .count())
    }

    /// Changes a gateway's request timeout, for the running server too.
    pub async fn set_gateway_timeout(&self, gateway: &str, timeout_ms: i64) -> Result<()> {
        let sql = "UPDATE gateways SET timeout_ms = $2 WHERE id = $1";
        settle::with_db!(&self.db, pool => sqlx::query(sql).bind(gateway).bind(timeout_ms).execute(pool).await.map(|_| ()))?;
        self.state.payments.reload_gateways().await?;
        Ok(())
    }

    /// An orchestrator like the server's, over the gateways as they are in the database now
    /// (tests change timeouts), with the default reconciliation policy.
    pub async fn fresh_orchestrator(&self) -> Result<settle::payment::Orchestrator> {
        self.orchestrator_with(settle::payment::orchestrator::ReconcilePolicy::default()).await
    }

    /// [`fresh_orchestrator`](Self::fresh_orchestrator) with its own reconciliation policy.
    pub async fn orchestrator_with(
        &self,
        reconcile: settle::payment::orchestrator::ReconcilePolicy,
    ) -> Result<settle::payment::Orchestrator> {
        use settle::connector::{ConnectorSettings, Connectors};
        let public_url = url::Url::parse(&self.base)?;
        let sandbox_url = url::Url::parse(&format!("{}/sandbox", self.base))?;
        let gateways = settle::gateway::Gateway::connections(&self.db).await?;
        let connectors = Connectors::for_gateways(
            &gateways,
            &ConnectorSettings {
                sandbox_url,
                sandbox_signing_secret: self.state.config.sandbox_signing_secret().to_owned(),
                client: reqwest::Client::new(),
            },
        );
        Ok(settle::payment::Orchestrator::new(
            self.db.clone(),
            connectors,
            gateways,
            settle_server::api::callbacks::urls(public_url),
            reconcile,
        ))
    }

    /// Prepares a seed 003 quote's payment object and returns its uuid.
    pub async fn prepare_quote(&self, token: &str, policy_number: &str) -> Result<String> {
        let answer = self
            .call(
                Method::POST,
                "/api/v1/payments/",
                Some(token),
                Some(&json!({ "policy_number": policy_number })),
                None,
            )
            .await?;
        ensure(matches!(answer.status, 200 | 201), format!("prepare: {answer:?}"))?;
        Ok(answer.body["uuid"].as_str().context("a uuid")?.to_owned())
    }

    /// A second customer, with a login and a short-term motor quote of their own.
    pub async fn other_customer(&self) -> Result<OtherCustomer> {
        use settle::account::{Email, NewUser, Password, Role, User};
        use settle::customer::Customer;
        let (email, password) = ("bongani@settle.test".to_owned(), "bongani-password-1".to_owned());
        let customer =
            Customer::create(&self.db, "CUST-0002", "Bongani Zulu", Some(&email), None).await?;
        User::create(
            &self.db,
            NewUser {
                email: Email::parse(&email)?,
                display_name: "Bongani Zulu".into(),
                role: Role::Customer,
                password: Password::new_secret(&password)?,
                customer_id: Some(customer.id.clone()),
            },
        )
        .await?;
        let policy_number = "DEMO/0099/SHORT/WEB".to_owned();
        crate::support::short_term_quote(&self.db, &customer.id, &policy_number, 2).await?;
        let token = self.password_token(&email, &password).await?;
        Ok(OtherCustomer { email, password, token, policy_number })
    }

    /// A second merchant (a confidential client) and its client-credentials token.
    pub async fn other_merchant(&self) -> Result<String> {
        use settle::merchant::{Merchant, NewMerchant};
        Merchant::create(
            &self.db,
            NewMerchant {
                name: "Another Shop".into(),
                client_id: "another-shop".into(),
                client_secret: "another-shop-secret-123".into(),
                webhook_url: None,
                webhook_secret: None,
                return_origins: vec!["http://localhost:8080".into()],
            },
        )
        .await?;
        self.client_token("another-shop", "another-shop-secret-123").await
    }
}

/// Settle's merchant API (what is owed), as a merchant's system calls it.
impl TestApp {
    /// `PUT /api/customers/{code}` with a name, email and phone.
    pub async fn put_customer(&self, token: &str, code: &str, body: Value) -> Result<Answer> {
        self.call(Method::PUT, &format!("/api/customers/{code}"), Some(token), Some(&body), None)
            .await
    }

    /// `POST /api/purchases`, with an idempotency key if given.
    pub async fn create_purchase(
        &self,
        token: &str,
        body: &Value,
        key: Option<&str>,
    ) -> Result<Answer> {
        self.call(Method::POST, "/api/purchases", Some(token), Some(body), key).await
    }

    /// `GET` a merchant API path that must answer 200; its body.
    pub async fn get_ok(&self, token: &str, path: &str) -> Result<Value> {
        let answer = self.call(Method::GET, path, Some(token), None, None).await?;
        ensure(answer.status == 200, format!("GET {path}: {answer:?}"))?;
        Ok(answer.body)
    }

    /// Pays a purchase with `POST /api/payments` by card (the sandbox acquirer's frictionless
    /// test card) through `gateway`.
    pub async fn pay_by_card(
        &self,
        token: &str,
        purchase_id: &str,
        gateway: &str,
    ) -> Result<Answer> {
        let body = json!({
            "purchase_id": purchase_id,
            "gateway": gateway,
            "method": "card",
            "card": { "holder": "T MOKOENA", "number": "4929 0000 0000 6", "expiry": "1230", "cvv": "123" },
            "billing_address": { "house": "14", "street": "Bree Street", "city": "Cape Town", "postcode": "8001" }
        });
        self.call(Method::POST, "/api/payments", Some(token), Some(&body), None).await
    }
}
