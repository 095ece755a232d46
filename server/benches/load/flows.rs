//! What the load is made of, through Settle's own APIs only: the merchant bills the demo customer
//! (a short-term motor policy and its purchase), the customer's app pays it by seed 003's card
//! flow or the merchant by `POST /api/payments`, both poll the payment, and a customer looks at
//! their account page.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};
use futures::StreamExt;
use serde_json::{Value, json};
use settle::demo::{
    CUSTOMER_CODE, CUSTOMER_EMAIL, CUSTOMER_PASSWORD, MERCHANT_CLIENT_ID, MERCHANT_CLIENT_SECRET,
};

use crate::generator::{self, Worker};

/// The sandbox acquirer's frictionless test card, through the 3-D Secure GBP gateway.
const GATEWAY: &str = "sagepay-gbp";
const CARD_NUMBER: &str = "4929000000006";

/// How long a payment may take to reach its final state before it counts as an error.
const FINAL_STATE_TIMEOUT: Duration = Duration::from_secs(30);

/// A payable purchase the merchant created: a policy and what is owed on it.
#[derive(Clone, Debug)]
pub struct Owed {
    /// The policy number (seed 003 prepares by it).
    pub policy_number: String,
    /// The purchase (`POST /api/payments` pays it).
    pub purchase_id: String,
}

/// One Settle server as the load sees it: tokens, payable purchases made ahead, and payments made
/// so far (what the polling cases read).
pub struct Settle {
    /// `http://127.0.0.1:{port}`.
    pub base: String,
    merchant_token: String,
    customer_token: String,
    owed: Mutex<Vec<Owed>>,
    /// Purchases a payment case had to create during its run (the pool ran dry).
    pub made_during_run: AtomicU64,
    seq: AtomicU64,
    quote_payments: Mutex<Vec<String>>,
    payments: Mutex<Vec<String>>,
}

fn url(base: &str, path: &str) -> String {
    format!("{base}{path}")
}

async fn token(client: &reqwest::Client, base: &str, form: &[(&str, &str)]) -> Result<String> {
    let body: Value =
        client.post(url(base, "/oauth/token")).form(form).send().await?.json().await?;
    Ok(body["access_token"].as_str().context(format!("a token: {body}"))?.to_owned())
}

/// A JSON call with a bearer token that must answer `expect`; the body.
async fn call(
    request: reqwest::RequestBuilder,
    token: &str,
    body: Option<&Value>,
    expect: &[u16],
) -> Result<Value> {
    let mut request = request.bearer_auth(token).header("accept", "application/json");
    if let Some(body) = body {
        request = request.json(body);
    }
    let response = request.send().await?;
    let status = response.status().as_u16();
    let text = response.text().await?;
    ensure!(
        expect.contains(&status),
        "answered {status}: {}",
        text.chars().take(300).collect::<String>()
    );
    Ok(serde_json::from_str(&text).unwrap_or(Value::Null))
}

impl Settle {
    /// Tokens for the demo merchant (client credentials) and the demo customer (password grant
    /// through the merchant's client, as seed 003's app holds one).
    pub async fn connect(base: &str) -> Result<Settle> {
        let client = generator::client();
        let merchant_token = token(
            &client,
            base,
            &[
                ("grant_type", "client_credentials"),
                ("client_id", MERCHANT_CLIENT_ID),
                ("client_secret", MERCHANT_CLIENT_SECRET),
            ],
        )
        .await?;
        let customer_token = token(
            &client,
            base,
            &[
                ("grant_type", "password"),
                ("username", CUSTOMER_EMAIL),
                ("password", CUSTOMER_PASSWORD),
                ("client_id", MERCHANT_CLIENT_ID),
            ],
        )
        .await?;
        Ok(Settle {
            base: base.to_owned(),
            merchant_token,
            customer_token,
            owed: Mutex::new(Vec::new()),
            made_during_run: AtomicU64::new(0),
            seq: AtomicU64::new(0),
            quote_payments: Mutex::new(Vec::new()),
            payments: Mutex::new(Vec::new()),
        })
    }

    /// The merchant bills the demo customer: `POST /api/services` (a 4-day short-term motor
    /// policy with its address) then `POST /api/purchases` (4 days at the product's price).
    pub async fn bill(&self, client: &reqwest::Client) -> Result<Owed> {
        let n = self.seq.fetch_add(1, Ordering::Relaxed);
        let policy_number = format!("BENCH/{}/{n:07}", uuid::Uuid::new_v4().simple());
        let start = chrono::Utc::now().date_naive() + chrono::Days::new(1);
        let end = start + chrono::Days::new(4);
        let service = json!({
            "reference": policy_number,
            "customer_code": CUSTOMER_CODE,
            "product_code": "SHORT-MOTOR",
            "period_start": start.to_string(),
            "period_end": end.to_string(),
            "policy_address": { "house": "21b", "street": "Tuesday Market Place", "city": "King's Lynn", "county": "Norfolk", "postcode": "PE301JW" },
            "quote": { "reference": format!("Q-{n}"), "insurer_name": "Trinity Lane" }
        });
        let token = &self.merchant_token;
        call(client.post(url(&self.base, "/api/services")), token, Some(&service), &[201])
            .await
            .context("POST /api/services")?;
        let purchase = json!({
            "customer_code": CUSTOMER_CODE,
            "service_reference": policy_number,
            "lines": [{ "description": "Short-term motor cover, 4 days", "quantity": 4 }]
        });
        let made =
            call(client.post(url(&self.base, "/api/purchases")), token, Some(&purchase), &[201])
                .await
                .context("POST /api/purchases")?;
        let purchase_id = made["purchase_id"].as_str().context("purchase_id")?.to_owned();
        Ok(Owed { policy_number, purchase_id })
    }

    /// Bills `n` purchases ahead of a payment case, 8 at a time; how long that took.
    pub async fn bill_ahead(&self, n: usize) -> Result<Duration> {
        let began = Instant::now();
        let client = generator::client();
        let made: Vec<Result<Owed>> = futures::stream::iter(0..n)
            .map(|_| self.bill(&client))
            .buffer_unordered(8)
            .collect()
            .await;
        let mut owed = Vec::with_capacity(n);
        for m in made {
            owed.push(m?);
        }
        self.owed.lock().expect("owed").extend(owed);
        Ok(began.elapsed())
    }

    /// Converted payments made so far: seed 003 payment objects, `POST /api/payments` payments.
    pub fn payments_made(&self) -> (usize, usize) {
        let v1 = self.quote_payments.lock().expect("uuids").len();
        (v1, self.payments.lock().expect("references").len())
    }

    /// Purchases billed ahead and not yet paid.
    pub fn owed_left(&self) -> usize {
        self.owed.lock().expect("owed").len()
    }

    async fn next_owed(&self, client: &reqwest::Client) -> Result<Owed> {
        let next = self.owed.lock().expect("owed").pop();
        match next {
            Some(owed) => Ok(owed),
            None => {
                self.made_during_run.fetch_add(1, Ordering::Relaxed);
                self.bill(client).await
            }
        }
    }

    /// Seed 003's flow for one purchase: prepare the payment object by policy number,
    /// take-payment with the frictionless test card at the policy address, then poll the
    /// payment URL until `POLICY_CONVERTED` (anything else at the end is an error).
    pub async fn card_flow(&self, worker: &Worker) -> Result<()> {
        let owed = self.next_owed(&worker.client).await?;
        let token = &self.customer_token;
        let c = &worker.client;
        let prepared = call(
            c.post(url(&self.base, "/api/v1/payments/")),
            token,
            Some(&json!({ "policy_number": owed.policy_number })),
            &[201],
        )
        .await
        .context("prepare")?;
        let uuid = prepared["uuid"].as_str().context("a payment uuid")?.to_owned();
        let body = json!({
            "card_details": { "card_holder": "J SMITH", "card_number": CARD_NUMBER, "expiry_date": "1030", "cv2": "123", "card_type": "VISA" },
            "billing_use_policy_address": true
        });
        let path = format!("/api/v1/payments/{uuid}/");
        let taken = call(
            c.post(url(&self.base, &format!("{path}take-payment/"))),
            token,
            Some(&body),
            &[200],
        )
        .await
        .context("take-payment")?;
        self.until_converted(c, token, &path, taken).await?;
        self.quote_payments.lock().expect("uuids").push(uuid);
        Ok(())
    }

    /// The merchant pays one purchase with `POST /api/payments` by card, then polls
    /// `GET /api/payments/{reference}` until `POLICY_CONVERTED`.
    pub async fn api_payment(&self, worker: &Worker) -> Result<()> {
        let owed = self.next_owed(&worker.client).await?;
        let body = json!({
            "purchase_id": owed.purchase_id,
            "gateway": GATEWAY,
            "method": "card",
            "card": { "holder": "J SMITH", "number": CARD_NUMBER, "expiry": "1030", "cvv": "123" },
            "billing_address": { "house": "21b", "street": "Tuesday Market Place", "city": "King's Lynn", "postcode": "PE301JW" }
        });
        let c = &worker.client;
        let token = &self.merchant_token;
        let started = call(c.post(url(&self.base, "/api/payments")), token, Some(&body), &[201])
            .await
            .context("POST /api/payments")?;
        let reference = started["reference"].as_str().context("a payment reference")?.to_owned();
        self.until_converted(c, token, &format!("/api/payments/{reference}"), started).await?;
        self.payments.lock().expect("references").push(reference);
        Ok(())
    }

    /// Polls `path` every 50 ms from the answer `first` until the payment is `POLICY_CONVERTED`;
    /// a state off the success path, or no final state in time, is an error.
    async fn until_converted(
        &self,
        c: &reqwest::Client,
        token: &str,
        path: &str,
        first: Value,
    ) -> Result<()> {
        let deadline = Instant::now() + FINAL_STATE_TIMEOUT;
        let mut seen = first;
        loop {
            let state = seen["payment_status_state"].as_str().unwrap_or_default();
            match state {
                "POLICY_CONVERTED" => return Ok(()),
                "PROCESSING" | "PAYMENT_SUCCESS" | "CONVERTING_POLICY" | "CREATED" => {}
                other => bail!("payment left the success path: {other}"),
            }
            if Instant::now() > deadline {
                bail!("not POLICY_CONVERTED in {FINAL_STATE_TIMEOUT:?} (last {state})");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
            seen = call(c.get(url(&self.base, path)), token, None, &[200]).await.context("poll")?;
        }
    }

    /// Seed 003's poll of a converted payment: `GET /api/v1/payments/{uuid}/`.
    pub async fn poll_quote_payment(&self, worker: &Worker) -> Result<()> {
        let uuid = pick(&self.quote_payments, worker).context("no seed 003 payment made yet")?;
        self.poll_converted(worker, &format!("/api/v1/payments/{uuid}/"), &self.customer_token)
            .await
    }

    /// The merchant's poll of a converted payment: `GET /api/payments/{reference}`.
    pub async fn poll_payment(&self, worker: &Worker) -> Result<()> {
        let reference = pick(&self.payments, worker).context("no API payment made yet")?;
        self.poll_converted(worker, &format!("/api/payments/{reference}"), &self.merchant_token)
            .await
    }

    /// One poll of a payment that must already be converted.
    async fn poll_converted(&self, worker: &Worker, path: &str, token: &str) -> Result<()> {
        let got = call(worker.client.get(url(&self.base, path)), token, None, &[200]).await?;
        ensure!(
            got["payment_status_state"] == "POLICY_CONVERTED",
            "state {}",
            got["payment_status_state"]
        );
        Ok(())
    }

    /// Logs the worker's browser in through the login form (same-origin headers, as the CSRF
    /// guard wants).
    pub async fn log_in(&self, worker: &Worker) -> Result<()> {
        let response = worker
            .client
            .post(url(&self.base, "/api/auth/login"))
            .header("accept", "text/html")
            .header("origin", &self.base)
            .header("referer", url(&self.base, "/login"))
            .header("sec-fetch-site", "same-origin")
            .form(&[("email", CUSTOMER_EMAIL), ("password", CUSTOMER_PASSWORD)])
            .send()
            .await?;
        let location = response.headers().get("location").and_then(|l| l.to_str().ok());
        ensure!(
            response.status() == 302 && location == Some("/account"),
            "login answered {} -> {location:?}",
            response.status()
        );
        Ok(())
    }

    /// A page that must answer 200 with HTML (a logged-out `/account` would be a 302).
    pub async fn page(&self, worker: &Worker, path: &str) -> Result<()> {
        let response =
            worker.client.get(url(&self.base, path)).header("accept", "text/html").send().await?;
        ensure!(response.status() == 200, "{path} answered {}", response.status());
        response.bytes().await?;
        Ok(())
    }
}

/// One of `list`, spread over workers and calls.
fn pick(list: &Mutex<Vec<String>>, worker: &Worker) -> Option<String> {
    let list = list.lock().expect("list");
    if list.is_empty() {
        return None;
    }
    let at = (worker.index * 7919 + rand::random::<usize>()) % list.len();
    Some(list[at].clone())
}
