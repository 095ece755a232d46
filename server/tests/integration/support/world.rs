//! Data the tests set up or read back directly in the database: policies on new products, a
//! service as it stands, the messages written to customers.

use anyhow::{Context, Result};
use chrono::Utc;
use settle::checkout::InvoiceActivation;
use settle::customer::Customer;
use settle::demo::MERCHANT_CLIENT_ID;
use settle::merchant::Merchant;
use settle::money::{Currency, Money};
use settle::product::{BillingKind, NewProduct, Product, ServiceKind};
use settle::purchase::{LineType, NewLine, Purchase, PurchaseStatus};
use settle::service::{BillingStatus, Service};
use settle::tax::TaxRate;

use super::TestApp;

impl TestApp {
    /// A policy for Thandi on a new product of the demo merchant: premium `price` AED + 5 %,
    /// payable through payfort-aed and invoice, with the product's invoice rule.
    pub async fn new_policy(
        &self,
        number: &str,
        price: &str,
        rule: InvoiceActivation,
    ) -> Result<()> {
        let aed = Currency::parse("AED")?;
        let merchant =
            Merchant::by_client_id(&self.db, MERCHANT_CLIENT_ID).await?.context("merchant")?;
        let product = Product::create(
            &self.db,
            NewProduct {
                code: format!("P-{}", number.replace('/', "-")),
                name: format!("Test product for {number}"),
                merchant_id: Some(merchant.id.clone()),
                service_kind: ServiceKind::Policy,
                billing_kind: BillingKind::OnceOff,
                unit_price: Money::parse_decimal(price, aed)?,
                tax_rate: TaxRate::parse("5")?,
                collection_day: None,
                auto_recharge: false,
            },
        )
        .await?;
        Product::set_gateways(&self.db, &product.id, &["payfort-aed", "invoice"]).await?;
        rule.set_for_product(&self.db, &product.id).await?;
        let thandi = Customer::find_by_code(&self.db, &merchant.id, settle::demo::CUSTOMER_CODE)
            .await?
            .context("Thandi")?;
        let policy = Service::new(number, &product, thandi.id, "quoted", BillingStatus::Unbilled);
        policy.insert(&self.db).await?;
        Purchase::create(
            &self.db,
            &policy.id,
            PurchaseStatus::Open,
            Utc::now(),
            vec![NewLine {
                line_type: LineType::OnceOff,
                description: "Premium, 12 months".into(),
                quantity: 1,
                unit_price: product.unit_price,
                period_per_quantity: 12,
                tax_rate: product.tax_rate,
            }],
        )
        .await?;
        Ok(())
    }

    /// A policy or service as it stands now, by its reference.
    pub async fn service(&self, reference: &str) -> Result<Service> {
        Service::find_by_reference(&self.db, reference).await?.context("the service")
    }

    /// The latest payment on a policy or service, by its reference.
    pub async fn latest_payment(&self, service: &str) -> Result<settle::payment::Payment> {
        let sql = "SELECT p.reference FROM payments p JOIN purchases pu ON pu.id = p.purchase_id JOIN services s ON s.id = pu.service_id WHERE s.reference = $1 ORDER BY p.created_at DESC LIMIT 1";
        let reference: String = settle::with_db!(&self.db, pool => sqlx::query_scalar(sql).bind(service).fetch_optional(pool).await)?
            .context("a payment on the service")?;
        settle::payment::Payment::find_by_reference(&self.db, &reference)
            .await?
            .context("the payment")
    }

    /// The (channel, recipient) of every message written for a payment, by channel.
    pub async fn messages_for(&self, reference: &str) -> Result<Vec<(String, String)>> {
        let sql = "SELECT n.channel, n.recipient FROM customer_notifications n JOIN payments p ON p.id = n.payment_id WHERE p.reference = $1 ORDER BY n.channel";
        Ok(
            settle::with_db!(&self.db, pool => sqlx::query_as(sql).bind(reference).fetch_all(pool).await)?,
        )
    }
}
