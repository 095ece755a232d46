//! What a paid payment tells the customer (policy email and SMS, invoice notice). Fulfilment
//! enqueues these as jobs in the transaction that activates the service, so each is sent once
//! however often fulfilment runs. Merchants are told through [`crate::webhook`].

use chrono::Utc;
use serde::{Deserialize, Serialize};

use crate::customer::Customer;
use crate::db::{Db, Tx};
use crate::error::{Error, Result};
use crate::job::{self, NewJob};
use crate::payment::{Payment, PaymentId};
use crate::service::Service;
use crate::with_db;

/// Job kind: write the customer's email and SMS about a converted payment.
pub const CUSTOMER_JOB: &str = "notify.customer";
/// Job kind: write the customer's invoice notice for an invoiced payment.
pub const INVOICE_JOB: &str = "notify.invoice";

/// The payload of the customer jobs.
#[derive(Debug, Serialize, Deserialize)]
pub struct PaymentJob {
    /// The payment concerned.
    pub payment_id: PaymentId,
}

/// Enqueues the customer's notifications of a converted payment, inside `tx`.
pub async fn enqueue_for(tx: &mut Tx, payment: &Payment) -> Result<()> {
    let payload = serde_json::to_value(PaymentJob { payment_id: payment.id.clone() })
        .map_err(|e| Error::Internal(e.to_string()))?;
    job::enqueue_in(
        tx,
        NewJob::new(CUSTOMER_JOB, payload).dedupe_key(format!("{CUSTOMER_JOB}:{}", payment.id)),
    )
    .await?;
    Ok(())
}

/// Enqueues the customer's invoice notice for an invoiced payment, inside `tx`.
pub async fn enqueue_invoice_notice(tx: &mut Tx, payment: &Payment) -> Result<()> {
    let payload = serde_json::to_value(PaymentJob { payment_id: payment.id.clone() })
        .map_err(|e| Error::Internal(e.to_string()))?;
    job::enqueue_in(
        tx,
        NewJob::new(INVOICE_JOB, payload).dedupe_key(format!("{INVOICE_JOB}:{}", payment.id)),
    )
    .await?;
    Ok(())
}

/// Writes the invoice notice email for an invoiced payment: what is owed, the invoice number and
/// how to pay it (the seller's payment instructions). Idempotent: one per payment.
pub async fn write_invoice_notice(db: &Db, payment_id: &PaymentId) -> Result<usize> {
    let payment = Payment::find(db, payment_id).await?.ok_or(Error::NotFound("payment"))?;
    let (service, customer) = service_and_customer(db, &payment).await?;
    let Some(email) = customer.email.clone() else { return Ok(0) };
    let seller = match service.merchant_id.as_ref().or(payment.merchant_id.as_ref()) {
        Some(id) => crate::document::Seller::find(db, id).await?,
        None => None,
    };
    let number = crate::document::invoice_number(&payment.reference);
    let how = match &seller {
        Some(seller) => seller.how_to_pay_invoice(payment.amount, &payment.reference),
        None => format!(
            "Pay {} quoting {} as the payment reference; the invoice shows how.",
            payment.amount.display(),
            payment.reference
        ),
    };
    let body = format!(
        "Dear {},\n\nYour invoice {number} for {} is ready.\n\n{how}\n\nThank you.",
        customer.name, service.reference,
    );
    write(
        db,
        &customer.id,
        &payment,
        "invoice",
        "email",
        &email,
        &format!("Invoice {number}"),
        &body,
    )
    .await
}

/// Stores one message (once per payment, kind and channel).
#[allow(clippy::too_many_arguments)] // one column each
async fn write(
    db: &Db,
    customer: &crate::customer::CustomerId,
    payment: &Payment,
    kind: &str,
    channel: &str,
    recipient: &str,
    subject: &str,
    body: &str,
) -> Result<usize> {
    let sql = "INSERT INTO customer_notifications (id, customer_id, payment_id, channel, recipient, subject, body, created_at, kind)
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT DO NOTHING";
    Ok(with_db!(db, pool => sqlx::query(sql)
        .bind(uuid::Uuid::now_v7().to_string())
        .bind(customer)
        .bind(&payment.id)
        .bind(channel)
        .bind(recipient)
        .bind(subject)
        .bind(body)
        .bind(Utc::now())
        .bind(kind)
        .execute(pool)
        .await
        .map(|r| r.rows_affected() as usize))?)
}

/// Writes the policy/service email and SMS for a converted payment (idempotent: one row per
/// payment and channel).
pub async fn write_customer_messages(db: &Db, payment_id: &PaymentId) -> Result<usize> {
    let payment = Payment::find(db, payment_id).await?.ok_or(Error::NotFound("payment"))?;
    let (service, customer) = service_and_customer(db, &payment).await?;
    let until = service
        .period_end
        .map(|t| t.format("%d %B %Y").to_string())
        .unwrap_or_else(|| "further notice".into());
    let what = match service.kind {
        crate::product::ServiceKind::Policy => {
            format!("Your policy {} is active until {until}.", service.reference)
        }
        crate::product::ServiceKind::Isp => {
            format!("Your service {} is paid up until {until}.", service.reference)
        }
    };
    let received = if payment.amount.is_zero() {
        format!("No payment was needed (reference {}).", payment.reference)
    } else {
        format!(
            "We received your payment of {} (reference {}).",
            payment.amount.display(),
            payment.reference
        )
    };
    let body = format!("Dear {},\n\n{received} {what}\n\nThank you.", customer.name);
    let mut written = 0;
    for (channel, recipient, subject, text) in [
        (
            "email",
            customer.email.clone(),
            format!("Payment received: {}", service.reference),
            body.clone(),
        ),
        (
            "sms",
            customer.phone.clone(),
            String::new(),
            format!("Payment {} received. {what}", payment.reference),
        ),
    ] {
        let Some(recipient) = recipient else { continue };
        written +=
            write(db, &customer.id, &payment, "activation", channel, &recipient, &subject, &text)
                .await?;
    }
    Ok(written)
}

async fn service_and_customer(db: &Db, payment: &Payment) -> Result<(Service, Customer)> {
    let sql = "SELECT s.reference FROM services s JOIN purchases p ON p.service_id = s.id WHERE p.id = $1";
    let reference: String = with_db!(db, pool => sqlx::query_scalar(sql).bind(&payment.purchase_id).fetch_one(pool).await)?;
    let service =
        Service::find_by_reference(db, &reference).await?.ok_or(Error::NotFound("service"))?;
    let customer =
        Customer::find(db, &service.customer_id).await?.ok_or(Error::NotFound("customer"))?;
    Ok((service, customer))
}
