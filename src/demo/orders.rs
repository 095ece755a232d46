//! Seed 002's orders: the euro order product, its gateways and the customer's saved methods.

use crate::customer::Customer;
use crate::db::Db;
use crate::error::Result;
use crate::gateway::{Gateway, GatewayKind};
use crate::merchant::Merchant;
use crate::money::{Currency, Money};
use crate::payment_method::{MethodKind, PaymentMethod};
use crate::product::{BillingKind, NewProduct, Product, ServiceKind};
use crate::tax::TaxRate;

use super::*;

/// Seed 002's orders: the merchant's order product in euros (amount set per order) with a card
/// acquirer for saved cards, a direct-debit bank and a hosted checkout, and the demo customer's
/// saved card and bank account (tokens the sandbox accepts across restarts).
pub(super) async fn create(db: &Db, merchant: &Merchant, customer: &Customer) -> Result<()> {
    let eur = Currency::parse("EUR")?;
    Gateway::create(db, "card-eur", "Card (EUR)", "sagepay", GatewayKind::Card3ds, eur).await?;
    Gateway::create(db, "sepa-eur", "SEPA direct debit", "bank", GatewayKind::DirectDebit, eur)
        .await?;
    Gateway::create(
        db,
        "checkout-eur",
        "Hosted checkout (EUR)",
        "peach",
        GatewayKind::HostedCheckout,
        eur,
    )
    .await?;
    let membership = Product::create(
        db,
        NewProduct {
            code: ORDER_PRODUCT_CODE.into(),
            name: "Membership".into(),
            merchant_id: Some(merchant.id.clone()),
            service_kind: ServiceKind::Isp,
            billing_kind: BillingKind::OnceOff,
            unit_price: Money::zero(eur),
            tax_rate: TaxRate::parse("0")?,
            collection_day: None,
            auto_recharge: false,
        },
    )
    .await?;
    Product::set_merchant_sets_amount(db, &membership.id, true).await?;
    Product::set_gateways(db, &membership.id, &["card-eur", "sepa-eur", "checkout-eur"]).await?;
    Merchant::set_order_product(db, &merchant.id, &membership).await?;

    let mut card = PaymentMethod::new(Some(customer.id.clone()), MethodKind::Card, "VISA 4242");
    card.card_brand = Some("VISA".into());
    card.card_last4 = Some("4242".into());
    card.card_expiry = Some("1229".into());
    card.gateway_id = Some("card-eur".into());
    card.gateway_token = Some("demo-card-token-4242".into());
    card.verified = true;
    let card = card.store(db).await?;
    let iban = crate::iban::Iban::parse("DE89370400440532013000")?;
    let mut bank = PaymentMethod::bank_account(
        customer.id.clone(),
        &iban,
        "sepa-eur",
        "demo-mandate-0001".into(),
    );
    // Collected before: usable and verified.
    bank.status = crate::payment_method::MethodStatus::Valid;
    bank.verified = true;
    let bank = bank.store(db).await?;
    let numbers = (card.number.map(|n| n.get()), bank.number.map(|n| n.get()));
    if numbers != (Some(ORDER_CARD_METHOD), Some(ORDER_BANK_METHOD)) {
        // The README lists these numbers: a demo that numbers them otherwise must say so.
        tracing::warn!(?numbers, "the demo's order payment methods are not numbered as documented");
    }
    Ok(())
}
