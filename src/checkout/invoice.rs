//! Paying by invoice: the product's rule for when an invoiced policy becomes active, and the
//! customer's invoice notice.

use chrono::Utc;

use crate::db::Db;
use crate::error::{Error, Result};
use crate::payment::{Payment, transition};
use crate::product::ProductId;
use crate::service::Service;
use crate::text_enum::stored;
use crate::{text_enum, with_db};

text_enum!(
    /// When a policy paid by invoice becomes active: a product setting.
    InvoiceActivation, field = "invoice_activation", {
        /// The policy waits until the invoice is paid (the default).
        OnPayment = "on_payment",
        /// The policy is activated when the invoice is issued: cover now, bill later.
        OnInvoice = "on_invoice",
    }
);

impl InvoiceActivation {
    /// The rule of a product.
    pub async fn of_product(db: &Db, product: &ProductId) -> Result<InvoiceActivation> {
        let sql = "SELECT invoice_activation FROM products WHERE id = $1";
        let rule: Option<String> = with_db!(db, pool => sqlx::query_scalar(sql)
            .bind(product)
            .fetch_optional(pool)
            .await)?;
        stored("products.invoice_activation", &rule.ok_or(Error::NotFound("product"))?)
    }

    /// Sets a product's rule.
    pub async fn set_for_product(self, db: &Db, product: &ProductId) -> Result<()> {
        let sql = "UPDATE products SET invoice_activation = $2 WHERE id = $1";
        let updated = with_db!(db, pool => sqlx::query(sql)
            .bind(product)
            .bind(self.as_str())
            .execute(pool)
            .await
            .map(|r| r.rows_affected()))?;
        if updated == 0 {
            return Err(Error::NotFound("product"));
        }
        Ok(())
    }
}

/// An invoice was issued for `payment`: the product's rule decides whether the service is active
/// now (`on_invoice`: from now; its paid-up period is set when the invoice is paid, so it is never
/// given twice), and the customer is sent the invoice notice.
pub(super) async fn issued(db: &Db, service: &Service, payment: &Payment) -> Result<()> {
    let rule = InvoiceActivation::of_product(db, &service.product_id).await?;
    let mut tx = db.begin().await?;
    if rule == InvoiceActivation::OnInvoice {
        Service::activate(&mut tx, &service.id, Utc::now(), None).await?;
        let note =
            "activated on invoice (product rule on_invoice); its paid-up period is set on payment";
        transition::note(&mut tx, payment, note, None).await?;
    }
    crate::notify::enqueue_invoice_notice(&mut tx, payment).await?;
    tx.commit().await
}
