//! The demo merchant and what it sells: gateways, products and purchase sources.

use crate::db::Db;
use crate::error::Result;
use crate::gateway::{Gateway, GatewayKind};
use crate::merchant::{Merchant, NewMerchant};
use crate::money::{Currency, Money};
use crate::product::{BillingKind, NewProduct, Product, ServiceKind};
use crate::tax::TaxRate;

use super::*;

/// The demo merchant with its gateways, products (motor, short-term motor, fibre, LTE, invoices)
/// and seed 004's off-system channels.
pub(super) async fn create(db: &Db) -> Result<Merchant> {
    let zar = Currency::parse("ZAR")?;
    let aed = Currency::parse("AED")?;
    let gbp = Currency::parse("GBP")?;
    let money = |amount: &str, currency| Money::parse_decimal(amount, currency);

    let merchant = Merchant::create(
        db,
        NewMerchant {
            name: "Demo Insurer & ISP".into(),
            client_id: MERCHANT_CLIENT_ID.into(),
            client_secret: MERCHANT_CLIENT_SECRET.into(),
            webhook_url: None,
            webhook_secret: None,
            return_origins: vec![
                "http://127.0.0.1:3000".into(),
                "http://localhost:3000".into(),
                "http://localhost:8080".into(),
            ],
        },
    )
    .await?;
    crate::document::Seller::set_payment_instructions(
        db,
        &merchant.id,
        Some("Pay by bank transfer to Demo Insurer & ISP, Standard Bank, account 012 345 678, branch code 051001."),
    )
    .await?;
    // Seed 001's client logs customers in without a secret (a public client).
    Merchant::set_public_client(db, &merchant.id, true).await?;
    crate::document::Seller::set_details(
        db,
        &merchant.id,
        Some("4710263598"),
        Some("14 Bree Street\nCape Town 8001\nSouth Africa"),
    )
    .await?;

    Gateway::create(db, "payfort-aed", "Payfort", "payfort", GatewayKind::HostedCheckout, aed)
        .await?;
    Gateway::create(db, "invoice", "Invoice", "Democrance", GatewayKind::Invoice, aed).await?;
    Gateway::create(db, "applepay-aed", "Apple Pay", "payfort", GatewayKind::ApplePay, aed).await?;
    Gateway::create(db, "sagepay-gbp", "Card", "sagepay", GatewayKind::Card3ds, gbp).await?;
    Gateway::create(db, "peach-zar", "Peach Payments", "peach", GatewayKind::HostedCheckout, zar)
        .await?;
    Gateway::create(db, "payfast-zar", "PayFast", "payfast", GatewayKind::PaymentLink, zar).await?;
    Gateway::create(db, CARD_ZAR_GATEWAY, "Card", "sagepay", GatewayKind::Card3ds, zar).await?;
    Gateway::create(
        db,
        "off-system",
        "Off-system allocation",
        "Settle",
        GatewayKind::OffSystem,
        zar,
    )
    .await?;

    let motor = Product::create(
        db,
        NewProduct {
            code: "MOTOR-COMP".into(),
            name: "Motor Comprehensive (annual)".into(),
            merchant_id: Some(merchant.id.clone()),
            service_kind: ServiceKind::Policy,
            billing_kind: BillingKind::OnceOff,
            unit_price: money("4857.14", aed)?,
            tax_rate: TaxRate::parse("5")?,
            collection_day: None,
            auto_recharge: false,
        },
    )
    .await?;
    Product::set_gateways(db, &motor.id, &["payfort-aed", "applepay-aed", "invoice"]).await?;

    let short_motor = Product::create(
        db,
        NewProduct {
            code: "SHORT-MOTOR".into(),
            name: "Trinity Lane - Short Term Test".into(),
            merchant_id: Some(merchant.id.clone()),
            service_kind: ServiceKind::Policy,
            billing_kind: BillingKind::OnceOff,
            unit_price: money("11.46", gbp)?,
            tax_rate: TaxRate::parse("12")?,
            collection_day: None,
            auto_recharge: false,
        },
    )
    .await?;
    Product::set_gateways(db, &short_motor.id, &["sagepay-gbp"]).await?;

    let fibre = Product::create(
        db,
        NewProduct {
            code: "FIBRE-20-10".into(),
            name: "Fibre 20/10 Monthly".into(),
            merchant_id: Some(merchant.id.clone()),
            service_kind: ServiceKind::Isp,
            billing_kind: BillingKind::RecurringMonthly,
            unit_price: money("329.70", zar)?,
            tax_rate: TaxRate::parse("15")?,
            collection_day: Some(15),
            auto_recharge: false,
        },
    )
    .await?;
    Product::set_gateways(db, &fibre.id, &["peach-zar", "payfast-zar", "off-system"]).await?;

    let lte = Product::create(
        db,
        NewProduct {
            code: "LTE-DAY".into(),
            name: "LTE Day Bundle".into(),
            merchant_id: Some(merchant.id.clone()),
            service_kind: ServiceKind::Isp,
            billing_kind: BillingKind::DayBundle,
            unit_price: money("10.00", zar)?,
            tax_rate: TaxRate::parse("15")?,
            collection_day: None,
            auto_recharge: true,
        },
    )
    .await?;
    Product::set_gateways(db, &lte.id, &["peach-zar", "payfast-zar", "off-system"]).await?;

    // Invoices whose amount the merchant sets (seed 001's `type: "XYZ"`), paid by card through
    // the sandbox acquirer or on the hosted checkout.
    let invoice = Product::create(
        db,
        NewProduct {
            code: INVOICE_PRODUCT_CODE.into(),
            name: "Invoice payment".into(),
            merchant_id: Some(merchant.id.clone()),
            service_kind: ServiceKind::Isp,
            billing_kind: BillingKind::OnceOff,
            unit_price: Money::zero(zar),
            tax_rate: TaxRate::parse("15")?,
            collection_day: None,
            auto_recharge: false,
        },
    )
    .await?;
    Product::set_merchant_sets_amount(db, &invoice.id, true).await?;
    Product::set_gateways(db, &invoice.id, &[CARD_ZAR_GATEWAY, "peach-zar"]).await?;

    // Seed 004's off-system channels, with its ids, for the demo collector.
    for (id, name) in [
        ("45eccc98-3247-43c9-a398-3c3c2c5ad39d", "Shop 2 Shop"),
        ("73a0f701-6a19-4146-ae90-2af6c1f14c7a", "EFT"),
        ("906e5f88-6c5e-4a30-8044-74f8549632bc", "Yoco"),
        ("95bfcea4-7fa6-494a-8def-11fd940763da", "Cash"),
        ("e8cc35b7-192c-412e-9f1f-755c9835a0e8", "Payment Link"),
    ] {
        crate::purchase_source::PurchaseSource::create(db, id, name, true, Some(DEMO_COLLECTOR_ID))
            .await?;
    }
    Ok(merchant)
}
