//! The seller named on documents: the merchant, with the tax number and address its tax
//! invoices must carry (columns `merchants.tax_number` and `merchants.address`).

use crate::db::Db;
use crate::error::{Error, Result};
use crate::merchant::MerchantId;
use crate::with_db;

/// A merchant as its documents show it.
#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct Seller {
    /// The merchant.
    pub id: MerchantId,
    /// Trading name.
    pub name: String,
    /// Tax (VAT) registration number, if the merchant gave one.
    pub tax_number: Option<String>,
    /// Postal address, one line per line.
    pub address: Option<String>,
    /// How to pay its invoices (bank transfer details), if it gave them.
    pub payment_instructions: Option<String>,
}

impl Seller {
    /// How a customer pays this seller's invoice: the amount, the payee, the reference to quote
    /// and the seller's bank details when it gave them. One sentence set for the invoice, its
    /// notice and the pages.
    pub fn how_to_pay_invoice(&self, amount: crate::money::Money, reference: &str) -> String {
        let mut text = format!(
            "Pay {} by bank transfer to {}, quoting {reference} as the payment reference.",
            amount.display(),
            self.name
        );
        if let Some(details) = self.payment_instructions.as_deref() {
            text.push(' ');
            text.push_str(details);
        }
        text
    }

    /// Loads a merchant's document details.
    pub async fn find(db: &Db, id: &MerchantId) -> Result<Option<Seller>> {
        let sql = "SELECT id, name, tax_number, address, payment_instructions FROM merchants WHERE id = $1";
        Ok(with_db!(db, pool => sqlx::query_as(sql).bind(id).fetch_optional(pool).await)?)
    }

    /// Sets the tax number and address a merchant's documents show (blank clears a field).
    pub async fn set_details(
        db: &Db,
        id: &MerchantId,
        tax_number: Option<&str>,
        address: Option<&str>,
    ) -> Result<()> {
        let clean = |v: Option<&str>| v.map(str::trim).filter(|v| !v.is_empty()).map(str::to_owned);
        let tax_number = clean(tax_number);
        if tax_number.as_ref().is_some_and(|t| t.chars().count() > 40) {
            return Err(Error::invalid("tax_number", "must be at most 40 characters"));
        }
        let sql = "UPDATE merchants SET tax_number = $2, address = $3 WHERE id = $1";
        let updated = with_db!(db, pool => sqlx::query(sql)
            .bind(id)
            .bind(&tax_number)
            .bind(clean(address))
            .execute(pool)
            .await
            .map(|r| r.rows_affected()))?;
        if updated == 0 {
            return Err(Error::NotFound("merchant"));
        }
        Ok(())
    }

    /// Sets how customers pay the merchant's invoices (blank clears it).
    pub async fn set_payment_instructions(
        db: &Db,
        id: &MerchantId,
        text: Option<&str>,
    ) -> Result<()> {
        let text = text.map(str::trim).filter(|t| !t.is_empty());
        let sql = "UPDATE merchants SET payment_instructions = $2 WHERE id = $1";
        with_db!(db, pool => sqlx::query(sql).bind(id).bind(text).execute(pool).await.map(|_| ()))?;
        Ok(())
    }

    /// The address's non-empty lines.
    pub fn address_lines(&self) -> Vec<&str> {
        self.address
            .as_deref()
            .unwrap_or("")
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .collect()
    }
}
