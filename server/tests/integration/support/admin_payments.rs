//! The admin's payment list as tests drive it: payments seeded straight into the database in
//! bulk (the list reads what is stored, however it got there), and the list's server function
//! called as the page calls it.

use anyhow::{Context, Result};
use chrono::{DateTime, Utc};
use serde_json::Value;
use settle::payment::search::sql::Bind;

use settle::demo::{ADMIN_EMAIL, ADMIN_PASSWORD};

use super::{TestApp, ensure};

/// A payment to store directly (in a final state, so the one-open / one-success indexes never
/// object however many a purchase gets).
#[derive(Clone, Debug)]
pub struct SeedPayment {
    pub id: String,
    pub reference: String,
    pub purchase_id: String,
    pub gateway_id: String,
    pub state: i64,
    pub currency: String,
    pub amount_minor: i64,
    pub card: Option<(String, String)>,
    pub created_at: DateTime<Utc>,
}

/// A purchase of the demo world and what the list's filters know it by.
#[derive(Clone, Debug)]
pub struct DemoPurchase {
    pub id: String,
    pub reference: String,
    pub merchant_id: Option<String>,
    pub service_reference: String,
    pub product_id: String,
    pub customer_id: String,
}

impl TestApp {
    /// A second browser, logged in as the admin.
    pub async fn admin(&self) -> Result<TestApp> {
        let admin = TestApp {
            base: self.base.clone(),
            client: self.new_client(),
            db: self.db.clone(),
            backend: self.backend,
            state: self.state.clone(),
        };
        admin.log_in(ADMIN_EMAIL, ADMIN_PASSWORD, "/admin").await?;
        Ok(admin)
    }

    /// The demo's purchases with their service, product, merchant and customer.
    pub async fn demo_purchases(&self) -> Result<Vec<DemoPurchase>> {
        let sql =
            "SELECT pu.id, pu.reference, pu.merchant_id, s.reference, s.product_id, s.customer_id
                   FROM purchases pu JOIN services s ON s.id = pu.service_id ORDER BY pu.id";
        type Row = (String, String, Option<String>, String, String, String);
        let rows: Vec<Row> =
            settle::with_db!(&self.db, pool => sqlx::query_as(sql).fetch_all(pool).await)?;
        Ok(rows
            .into_iter()
            .map(|r| DemoPurchase {
                id: r.0,
                reference: r.1,
                merchant_id: r.2,
                service_reference: r.3,
                product_id: r.4,
                customer_id: r.5,
            })
            .collect())
    }

    /// Stores `payments` in multi-row inserts of 500.
    pub async fn seed_payments(&self, payments: &[SeedPayment]) -> Result<()> {
        for batch in payments.chunks(500) {
            let mut values = Vec::new();
            let mut binds = Vec::new();
            for p in batch {
                let n = binds.len();
                values.push(format!(
                    "(${}, ${}, ${}, ${}, ${}, ${}, ${}, ${}, ${}, '{{}}', ${}, ${})",
                    n + 1,
                    n + 2,
                    n + 3,
                    n + 4,
                    n + 5,
                    n + 6,
                    n + 7,
                    n + 8,
                    n + 9,
                    n + 10,
                    n + 11
                ));
                binds.extend([
                    Bind::Text(p.id.clone()),
                    Bind::Text(p.reference.clone()),
                    Bind::Text(p.purchase_id.clone()),
                    Bind::Text(p.gateway_id.clone()),
                    Bind::Int(p.state),
                    Bind::Text(p.currency.clone()),
                    Bind::Int(p.amount_minor),
                ]);
                match &p.card {
                    Some((brand, last4)) => {
                        binds.extend([Bind::Text(brand.clone()), Bind::Text(last4.clone())])
                    }
                    None => binds.extend([Bind::Text("".into()), Bind::Text("".into())]),
                }
                binds.extend([Bind::Time(p.created_at), Bind::Time(p.created_at)]);
            }
            let sql = format!(
                "INSERT INTO payments (id, reference, purchase_id, gateway_id, state, currency, amount_minor, card_brand, card_last4, details, created_at, updated_at) VALUES {}",
                values.join(", ")
            );
            settle::with_db!(&self.db, pool => settle::bind_all!(sqlx::query(&sql), &binds)
                .execute(pool)
                .await
                .map(|_| ()))?;
        }
        // Payments without a card keep NULLs, as the server stores them.
        let sql = "UPDATE payments SET card_brand = NULL, card_last4 = NULL WHERE card_last4 = ''";
        settle::with_db!(&self.db, pool => sqlx::query(sql).execute(pool).await.map(|_| ()))?;
        Ok(())
    }

    /// The list's server function for `query` (as the page calls it), as JSON.
    pub async fn payments_list(&self, query: &str) -> Result<Value> {
        let body = serde_urlencoded::to_string([("query", query)])?;
        let response = self
            .post_raw(
                &self.client,
                "/admin/api/payments",
                "application/x-www-form-urlencoded",
                body,
                None,
            )
            .await?;
        let status = response.status();
        let text = response.text().await?;
        ensure(status == 200, format!("payments list {query}: {status} {text}"))?;
        serde_json::from_str(&text).context("the list's JSON")
    }

    /// The references of one page of the list.
    pub async fn payment_references(&self, query: &str) -> Result<Vec<String>> {
        let page = self.payments_list(query).await?;
        let rows = page["rows"].as_array().context("rows")?;
        Ok(rows.iter().filter_map(|r| r["reference"].as_str().map(str::to_owned)).collect())
    }
}
