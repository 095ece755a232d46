//! Seed 004's buy now: billing schemes, default providers and two paid-up services.

use chrono::{Duration, Utc};
use serde_json::json;

use crate::customer::Customer;
use crate::db::Db;
use crate::error::{Error, Result};
use crate::merchant::Merchant;
use crate::money::{Currency, Money};
use crate::payment_method::{MethodKind, PaymentMethod};
use crate::product::Product;
use crate::purchase::LineType;
use crate::service::{BillingStatus, Service};

use super::*;

/// Seed 004's buy now: the billing schemes of `FIBRE-20-10` (months ahead) and `LTE-DAY` (day
/// bundles), the merchant's default providers, and two paid-up services of the demo customer
/// collected with a saved card: an LTE day-bundle service with auto-recharge whose bundle runs
/// out in three days, and a fibre service paid for the next twenty days.
pub(super) async fn create(db: &Db, merchant: &Merchant, customer: &Customer) -> Result<()> {
    use crate::billing::scheme::{BillingScheme, ProductPrice, ProductPriceId, SchemeSettings};
    let product = |code: &'static str| async move {
        Product::find_for_merchant(db, &merchant.id, code).await?.ok_or(Error::NotFound("product"))
    };
    let fibre = product("FIBRE-20-10").await?;
    let lte = product("LTE-DAY").await?;
    let zar = Currency::parse("ZAR")?;
    let option = |id: &str, line_type, description: &str, price: &str, per, max| {
        Ok::<_, Error>(ProductPrice {
            id: ProductPriceId::from_string(id),
            line_type,
            description: description.into(),
            unit_price: Money::parse_decimal(price, zar)?,
            period_per_quantity: per,
            min_quantity: 1,
            max_quantity: max,
        })
    };
    let fibre_options = [
        option(
            FIBRE_MONTHLY_PRICE_ID,
            LineType::Monthly,
            "Monthly Recurring 20/10",
            "329.70",
            1,
            12,
        )?,
        option(FIBRE_DAILY_PRICE_ID, LineType::Day, "Monthly Recurring 20/10", "10.99", 1, 365)?,
    ];
    for o in &fibre_options {
        BillingScheme::add_price(db, &fibre, o).await?;
    }
    let lte_options = [
        option(LTE_7_DAY_PRICE_ID, LineType::Day, "7 Day bundle", "10.00", 7, 10)?,
        option(LTE_30_DAY_PRICE_ID, LineType::Day, "30 Day bundle", "35.00", 30, 10)?,
    ];
    for o in &lte_options {
        BillingScheme::add_price(db, &lte, o).await?;
    }
    let settings = SchemeSettings {
        recharge_days_before: 2,
        months_ahead_limit: 12,
        accepts_immediate_payments: true,
    };
    BillingScheme::set_settings(db, &fibre.id, settings).await?;
    BillingScheme::set_settings(db, &lte.id, settings).await?;
    crate::billing::config::set_default_provider(db, &merchant.id, MethodKind::Card, "peach-zar")
        .await?;
    crate::billing::config::set_default_provider(
        db,
        &merchant.id,
        MethodKind::BankAccount,
        "sepa-eur",
    )
    .await?;

    // A card tokenized at sign-up (the sandbox reads `demo-…-1111` as a Visa ending 1111).
    let mut card = PaymentMethod::new(Some(customer.id.clone()), MethodKind::Card, "test 1111");
    card.id = crate::payment_method::PaymentMethodId::from_string(RECHARGE_CARD_ID);
    card.card_brand = Some("Visa".into());
    card.card_last4 = Some("1111".into());
    card.card_expiry = Some("1229".into());
    card.gateway_id = Some("peach-zar".into());
    card.gateway_token = Some("demo-peach-token-1111".into());
    card.verified = true;
    card.insert(db).await?;

    let now = Utc::now();
    for (reference, product, start, end) in [
        (LTE_SERVICE_ID, &lte, now - Duration::days(4), now + Duration::days(3)),
        (FIBRE_PAID_UP_SERVICE_ID, &fibre, now - Duration::days(10), now + Duration::days(20)),
    ] {
        let mut service =
            Service::new(reference, product, customer.id.clone(), "Active", BillingStatus::PaidUp);
        service.active_payment_method_id = Some(card.id.clone());
        service.period_start = Some(start);
        service.period_end = Some(end);
        service.details = details(json!({ "collector_id": DEMO_COLLECTOR_ID }))?;
        service.insert(db).await?;
    }
    Ok(())
}
