//! Seed 004's collection: the demo collector and a fibre service to pay with a new card.

use chrono::{Duration, Utc};
use serde_json::json;

use crate::customer::Customer;
use crate::db::Db;
use crate::error::Result;
use crate::merchant::Merchant;
use crate::product::Product;
use crate::purchase::{LineType, NewLine, Purchase, PurchaseStatus};
use crate::service::{BillingStatus, Service};

use super::*;

/// Seed 004's collection: the demo collector (whose post-backs send customers on to the
/// merchant's origins) and a second fibre service in arrears, without a saved card, for paying
/// with "Add new payment method".
pub(super) async fn create(
    db: &Db,
    merchant: &Merchant,
    customer: &Customer,
    fibre: &Product,
) -> Result<()> {
    crate::collector::Collector::create(db, DEMO_COLLECTOR_ID, &merchant.id, "Demo ISP").await?;
    let mut service = Service::new(
        NEW_CARD_SERVICE_ID,
        fibre,
        customer.id.clone(),
        "Active",
        BillingStatus::InArrears,
    );
    service.period_start = Some(Utc::now() - Duration::days(40));
    service.period_end = Some(Utc::now() - Duration::days(10));
    service.details =
        details(json!({ "collector_id": DEMO_COLLECTOR_ID, "service_type": "Recurring" }))?;
    service.insert(db).await?;
    Purchase::create(
        db,
        &service.id,
        PurchaseStatus::Open,
        Utc::now() - Duration::days(10),
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
    Ok(())
}
