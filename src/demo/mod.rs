//! The demo world: a small, realistic data set for development and demos. Every later feature
//! adds its demo records here, so there is one place to read what a fresh `cargo run` contains.
//! The README's "Demo data" section lists the logins and records below.

use chrono::{Duration, Utc};
use serde_json::json;

use crate::account::{Email, NewUser, Password, Role, User};
use crate::customer::Customer;
use crate::db::Db;
use crate::error::{Error, Result};
use crate::gateway::{Gateway, GatewayKind};
use crate::merchant::Merchant;
use crate::money::Currency;
use crate::payment_method::{MethodKind, PaymentMethod};
use crate::product::Product;
use crate::purchase::{LineType, NewLine, Purchase, PurchaseStatus};
use crate::service::{BillingStatus, Service};

mod bulk;
mod buy_now;
mod catalogue;
mod collection;
pub mod history;
mod orders;

/// Demo customer login.
pub const CUSTOMER_EMAIL: &str = "customer@settle.test";
/// Demo customer password.
pub const CUSTOMER_PASSWORD: &str = "settle-customer";
/// Demo customer's name.
pub const CUSTOMER_NAME: &str = "Thandi Mokoena";
/// Demo admin login.
pub const ADMIN_EMAIL: &str = "admin@settle.test";
/// Demo admin password.
pub const ADMIN_PASSWORD: &str = "settle-admin";
/// Demo operator login.
pub const OPERATOR_EMAIL: &str = "operator@settle.test";
/// Demo operator password.
pub const OPERATOR_PASSWORD: &str = "settle-operator";
/// Demo merchant's OAuth2 client id (the one seed 001 uses).
pub const MERCHANT_CLIENT_ID: &str = "invoice-system-client";
/// Demo merchant's OAuth2 client secret.
pub const MERCHANT_CLIENT_SECRET: &str = "settle-demo-client-secret";
/// The demo's bank-transfer gateway for invoices (a hosted-checkout page).
pub const BANK_TRANSFER_GATEWAY: &str = "bank-transfer-zar";
/// The demo's mobile-money gateway for invoices (a hosted-checkout page).
pub const MOBILE_MONEY_GATEWAY: &str = "mobile-money-zar";
/// The demo merchant's API login (seed 001's `username`): its tokens stand for the merchant.
pub const MERCHANT_API_EMAIL: &str = "api@demo-insurer.test";
/// The demo merchant's API login password.
pub const MERCHANT_API_PASSWORD: &str = "settle-merchant-api";
/// The demo insurance policy awaiting checkout.
pub const POLICY_NUMBER: &str = "DEMO/0001/MOTOR/WEB";
/// The demo short-term motor quote paid by card with 3-D Secure (seed 003's flow).
pub const CARD_POLICY_NUMBER: &str = "DEMO/0002/SHORT/WEB";
/// The demo ISP service in arrears (the id seed 004 uses).
pub const ISP_SERVICE_ID: &str = "E14C231D-5899-44BE-B7A1-AA46893C8D83";
/// The demo ISP's collector (the id seed 004 uses).
pub const DEMO_COLLECTOR_ID: &str = "195ccad5-02fc-4dc2-8589-7d85e44ffe30";
/// The demo customer's id (seed 004's `userId`, the `customer_id` its example mediums carry).
pub const CUSTOMER_ID: &str = "2e15812f-34d7-4903-898e-ed3dcc6704a1";
/// The demo customer's code at the demo merchant.
pub const CUSTOMER_CODE: &str = "CUST-0001";
/// The demo product whose amount the merchant sets (seed 001's invoice `type`).
pub const INVOICE_PRODUCT_CODE: &str = "XYZ";
/// The demo's card gateway in rand (the sandbox card acquirer), which invoice payments take.
pub const CARD_ZAR_GATEWAY: &str = "sagepay-zar";
/// The product the demo merchant's orders (seed 002) are booked against: euros, amount per order.
pub const ORDER_PRODUCT_CODE: &str = "MEMBERSHIP";
/// A campaign code for the demo's orders.
pub const ORDER_CAMPAIGN_CODE: &str = "CAMPAIGN-2026";
/// The demo customer's saved card for orders: its payment method number on a fresh database.
pub const ORDER_CARD_METHOD: i64 = 5;
/// The demo customer's direct-debit bank account for orders: its number on a fresh database.
pub const ORDER_BANK_METHOD: i64 = 6;
/// The global "add new payment method" medium (the id seed 004 uses).
pub const ADD_NEW_METHOD_ID: &str = "aa8b416b-a7d9-4bc0-af81-041722e11ad4";
/// The demo ISP service paid with a new card through the hosted checkout (the id seed 004's
/// "Add new payment method" example uses): in arrears, no active medium.
pub const NEW_CARD_SERVICE_ID: &str = "B687E259-FF63-4FAD-81B8-DFDF4CB726AC";
/// `FIBRE-20-10`'s monthly option, "Monthly Recurring 20/10" (the `product_price_id` of seed
/// 004's arrears line).
pub const FIBRE_MONTHLY_PRICE_ID: &str = "41d48ce6-753e-4678-96b2-7f2f08fee202";
/// `FIBRE-20-10`'s per-day option (10.99 a day excl. tax), which prices seed 004's 79 days.
pub const FIBRE_DAILY_PRICE_ID: &str = "7c1e4f0a-2b8d-4c55-9a51-0d6f3e2b1a10";
/// `LTE-DAY`'s "7 Day bundle" (the id seed 004's buy-now example sends).
pub const LTE_7_DAY_PRICE_ID: &str = "3fa85f64-5717-4562-b3fc-2c963f66afa6";
/// `LTE-DAY`'s "30 Day bundle".
pub const LTE_30_DAY_PRICE_ID: &str = "b2f1c7de-4a8e-4f3b-9c2d-30d0a7e5c030";
/// The demo customer's paid-up LTE day-bundle service with auto-recharge.
pub const LTE_SERVICE_ID: &str = "5d1b9a7e-3c42-4e8f-b6a1-7e2c9d4f0b15";
/// The demo customer's paid-up fibre service, for buying months ahead (seed 004's id).
pub const FIBRE_PAID_UP_SERVICE_ID: &str = "2afddac4-dfd8-40e6-ba4c-250b4926a4a8";
/// The saved, tokenized card both paid-up services collect with (seed 004's buy-now medium).
pub const RECHARGE_CARD_ID: &str = "fcffc5e9-052a-47b0-b41d-0ef647a84e08";

/// The demo customer (Thandi, `CUST-0001` at the demo merchant).
pub async fn customer(db: &Db) -> Result<Customer> {
    let merchant = Merchant::by_client_id(db, MERCHANT_CLIENT_ID)
        .await?
        .ok_or(Error::NotFound("demo merchant"))?;
    Customer::find_by_code(db, &merchant.id, CUSTOMER_CODE)
        .await?
        .ok_or(Error::NotFound("demo customer"))
}

/// Typed service details from the demo's JSON.
fn details(value: serde_json::Value) -> Result<crate::service::ServiceDetails> {
    serde_json::from_value(value).map_err(|e| Error::Internal(format!("demo service details: {e}")))
}

/// Empties the database ([`Db::reset`]) and loads the demo world again: a fresh demo.
pub async fn reset(db: &Db) -> Result<()> {
    db.reset().await?;
    load(db).await
}

/// Loads the demo world into a database that has no users yet; refuses otherwise, so demo
/// records never mix with real ones.
pub async fn load(db: &Db) -> Result<()> {
    if User::any_exist(db).await? {
        return Err(Error::Conflict(
            "the database already has users; demo data loads only into an empty one".into(),
        ));
    }
    let merchant = catalogue::create(db).await?;
    let product = |code: &'static str| {
        let merchant = &merchant.id;
        async move {
            Product::find_for_merchant(db, merchant, code).await?.ok_or(Error::NotFound("product"))
        }
    };
    let motor = product("MOTOR-COMP").await?;
    let short_motor = product("SHORT-MOTOR").await?;
    let fibre = product("FIBRE-20-10").await?;
    let zar = Currency::parse("ZAR")?;

    let (thandi, _) = Customer::upsert_with_id(
        db,
        crate::customer::CustomerId::from_string(CUSTOMER_ID),
        &merchant.id,
        &crate::customer::CustomerCode::parse(CUSTOMER_CODE)?,
        CUSTOMER_NAME,
        Some(CUSTOMER_EMAIL),
        Some("+27 82 555 0101"),
    )
    .await?;
    User::create(
        db,
        NewUser {
            email: Email::parse(CUSTOMER_EMAIL)?,
            display_name: CUSTOMER_NAME.into(),
            role: Role::Customer,
            password: Password::new_secret(CUSTOMER_PASSWORD)?,
            customer_id: Some(thandi.id.clone()),
        },
    )
    .await?;
    for (email, name, role, password) in [
        (ADMIN_EMAIL, "Sipho Ndlovu", Role::Admin, ADMIN_PASSWORD),
        (OPERATOR_EMAIL, "Lerato Dlamini", Role::Operator, OPERATOR_PASSWORD),
    ] {
        User::create(
            db,
            NewUser {
                email: Email::parse(email)?,
                display_name: name.into(),
                role,
                password: Password::new_secret(password)?,
                customer_id: None,
            },
        )
        .await?;
    }

    // The merchant's own API login (seed 001's invoice system signs in with it).
    User::create_for_merchant(
        db,
        &merchant.id,
        Email::parse(MERCHANT_API_EMAIL)?,
        "Demo Insurer & ISP invoice system",
        Password::new_secret(MERCHANT_API_PASSWORD)?,
    )
    .await?;

    // The insurance policy awaiting checkout: a quote with its premium due.
    let mut policy =
        Service::new(POLICY_NUMBER, &motor, thandi.id.clone(), "quoted", BillingStatus::Unbilled);
    policy.details = details(json!({
        "quote": { "reference": "Q-2026-000173", "scheme_code": "9999", "scheme_name": "Demo Motor Comprehensive", "insurer_name": "Trinity Lane" },
        "policy_address": { "house": "21b", "street": "Tuesday Market Place", "city": "King's Lynn", "county": "Norfolk", "postcode": "PE301JW" },
        "vehicle": { "reg_no": "RE23EA", "make": "Fiat", "model": "500", "year_of_manufacture": 2010, "cc": 1242, "fuel_type_name": "Petrol" }
    }))?;
    policy.insert(db).await?;
    Purchase::create(
        db,
        &policy.id,
        PurchaseStatus::Open,
        Utc::now(),
        vec![NewLine {
            line_type: LineType::OnceOff,
            description: "Motor Comprehensive premium, 12 months".into(),
            quantity: 1,
            unit_price: motor.unit_price,
            period_per_quantity: 12,
            tax_rate: motor.tax_rate,
        }],
    )
    .await?;

    // The short-term motor quote of seed 003: card payment with 3-D Secure.
    let mut short = Service::new(
        CARD_POLICY_NUMBER,
        &short_motor,
        thandi.id.clone(),
        "quoted",
        BillingStatus::Unbilled,
    );
    short.details = details(json!({
        "quote": { "reference": "0e02575f-f9e1-4061-8408-f960f2a91173", "scheme_code": "9999", "scheme_name": "Trinity Lane - Short Term Test", "insurer_name": "Trinity Lane" },
        "policy_address": { "house": "21b", "street": "Tuesday Market Place", "city": "King's Lynn", "county": "Norfolk", "postcode": "PE301JW" },
        "vehicle": { "vehicle_type": 1, "reg_no": "RE23EA", "abi_code": 16545701, "year_of_manufacture": 2010, "cc": 1242, "number_of_doors": 3, "number_of_seats": 4, "make": "Fiat", "model": "500", "gearbox_type_id": "002", "gearbox_type_name": "Manual", "body_type_id": "02", "body_type_name": "Hatchback", "fuel_type_id": "002", "fuel_type_name": "Petrol" }
    }))?;
    short.insert(db).await?;
    Purchase::create(
        db,
        &short.id,
        PurchaseStatus::Open,
        Utc::now(),
        vec![NewLine {
            line_type: LineType::Day,
            description: "Short-term motor cover, 4 days".into(),
            quantity: 4,
            unit_price: short_motor.unit_price,
            period_per_quantity: 1,
            tax_rate: short_motor.tax_rate,
        }],
    )
    .await?;

    // The ISP service in arrears, paid by a saved card.
    let mut card = PaymentMethod::new(Some(thandi.id.clone()), MethodKind::Card, "test 4242");
    card.card_brand = Some("Visa".into());
    card.card_last4 = Some("4242".into());
    card.card_expiry = Some("1229".into());
    card.gateway_id = Some("peach-zar".into());
    card.gateway_token = Some("demo-peach-token-4242".into());
    card.verified = true;
    card.insert(db).await?;
    let mut link =
        PaymentMethod::new(Some(thandi.id.clone()), MethodKind::PaymentLink, "thandi@pay.demo");
    link.gateway_id = Some("payfast-zar".into());
    link.insert(db).await?;
    PaymentMethod::new(Some(thandi.id.clone()), MethodKind::OffSystem, "N/A").insert(db).await?;
    let mut add_new =
        PaymentMethod::new(None, MethodKind::ProviderSelected, "Add new payment method");
    add_new.id = crate::payment_method::PaymentMethodId::from_string(ADD_NEW_METHOD_ID);
    add_new.gateway_id = Some("peach-zar".into());
    add_new.insert(db).await?;

    let mut fibre_service =
        Service::new(ISP_SERVICE_ID, &fibre, thandi.id.clone(), "Active", BillingStatus::InArrears);
    fibre_service.active_payment_method_id = Some(card.id.clone());
    fibre_service.period_start = Some(Utc::now() - Duration::days(45));
    fibre_service.period_end = Some(Utc::now() - Duration::days(15));
    fibre_service.details =
        details(json!({ "collector_id": DEMO_COLLECTOR_ID, "service_type": "Recurring" }))?;
    fibre_service.insert(db).await?;
    Purchase::create(
        db,
        &fibre_service.id,
        PurchaseStatus::Open,
        Utc::now() - Duration::days(15),
        vec![NewLine {
            line_type: LineType::Monthly,
            description: "Fibre 20/10, monthly".into(),
            quantity: 1,
            unit_price: fibre.unit_price,
            period_per_quantity: 1,
            tax_rate: fibre.tax_rate,
        }],
    )
    .await?;

    collection::create(db, &merchant, &thandi, &fibre).await?;

    // Seed 001's other ways to pay an invoice: bank transfer and mobile money, each on a
    // hosted-checkout page (the sandbox's), after the card.
    for (id, name, provider) in [
        (BANK_TRANSFER_GATEWAY, "Bank transfer", "ozow"),
        (MOBILE_MONEY_GATEWAY, "Mobile money", "mpesa"),
    ] {
        Gateway::create(db, id, name, provider, GatewayKind::HostedCheckout, zar).await?;
    }
    let invoices = Product::find_for_merchant(db, &merchant.id, INVOICE_PRODUCT_CODE)
        .await?
        .ok_or(Error::NotFound("product"))?;
    Product::set_gateways(
        db,
        &invoices.id,
        &[CARD_ZAR_GATEWAY, BANK_TRANSFER_GATEWAY, MOBILE_MONEY_GATEWAY],
    )
    .await?;
    orders::create(db, &merchant, &thandi).await?;
    // After seed 002's methods, so theirs keep the numbers the README gives.
    buy_now::create(db, &merchant, &thandi).await?;
    // Last: a month of payments by other customers, so the console looks like a real one.
    history::create(db, &merchant).await?;
    Ok(())
}
