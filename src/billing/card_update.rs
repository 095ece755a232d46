//! Card update (seed 004's "Update PayFast credit card"): the customer replaces the card behind
//! a saved card medium on the gateway's own page, so recurring collections and auto-recharges
//! go on with the new card.
//!
//! [`start`] asks the medium's gateway for an update page and records the update; the gateway
//! sends the customer back to Settle ([`finish`]), which asks the gateway how it ended (the
//! browser's word counts for nothing) and, once, puts the new token, expiry, brand and last four
//! digits on the medium and makes it valid again. The customer then goes to the client's
//! return URL if its origin is registered for the merchant, else to Settle's account page.

use chrono::{DateTime, Utc};
use url::Url;

use crate::access::{self, Viewer};
use crate::checkout::return_to::registered_url;
use crate::connector::{CardUpdateRequest, CardUpdateStatus};
use crate::customer::Customer;
use crate::error::{Error, Result};
use crate::merchant::Merchant;
use crate::payment::Orchestrator;
use crate::payment_method::{PaymentMethod, PaymentMethodId};
use crate::text_enum::stored;
use crate::{text_enum, with_db, with_tx};

crate::id_type!(
    /// Identifies a card update.
    CardUpdateId
);

text_enum!(
    /// Where a card update stands.
    UpdateStatus, field = "status", {
        /// The customer has not finished on the gateway's page.
        Pending = "pending",
        /// The new card is on the medium.
        Succeeded = "succeeded",
        /// Declined or abandoned: the medium is as it was.
        Failed = "failed",
    }
);

/// Settle's page customers land on when the client named no (registered) way back.
pub const ACCOUNT_PAGE: &str = "/account";

/// A card update as stored.
#[derive(Clone, Debug)]
pub struct CardUpdate {
    /// Settle's id.
    pub id: CardUpdateId,
    /// The card medium being updated.
    pub payment_method_id: PaymentMethodId,
    /// The gateway holding its token.
    pub gateway_id: String,
    /// The gateway's id for the update.
    pub gateway_reference: String,
    /// Where it stands.
    pub status: UpdateStatus,
    /// When it was started.
    pub created_at: DateTime<Utc>,
}

#[derive(sqlx::FromRow)]
struct Row {
    id: CardUpdateId,
    payment_method_id: PaymentMethodId,
    gateway_id: String,
    gateway_reference: String,
    status: String,
    created_at: DateTime<Utc>,
}

/// A started update: the gateway's page to send the customer to.
#[derive(Clone, Debug)]
pub struct Started {
    /// The update.
    pub id: CardUpdateId,
    /// The gateway's card-update page (it takes `?return={url}`).
    pub url: Url,
}

/// Starts updating the card medium `medium_id`, if the viewer may see it (its owner, or the
/// merchant whose customer owns it; anyone else's is not found). Only a tokenized card can be
/// updated. `return_path` is Settle's route the gateway sends the customer back to, with `{id}`.
pub async fn start(
    payments: &Orchestrator,
    viewer: &Viewer,
    medium_id: &str,
    return_path: &str,
) -> Result<Started> {
    let db = payments.db();
    let medium = access::payment_method_by_id(db, viewer, medium_id).await?;
    let (Some(gateway), Some(token), true) =
        (&medium.gateway_id, &medium.gateway_token, medium.is_tokenized_card())
    else {
        return Err(Error::invalid(
            "medium_detail_id",
            format!(
                "only a saved credit card can be updated; this medium is {}",
                medium.kind.as_str().replace('_', " ")
            ),
        ));
    };
    let id = CardUpdateId::generate();
    let return_url = crate::connector::http::endpoint(
        &payments.urls().public_url,
        &return_path.replace("{id}", id.as_str()),
    )
    .ok_or_else(|| Error::Internal(format!("public_url cannot take {return_path}")))?;
    let session = payments
        .connector(gateway)?
        .start_card_update(&CardUpdateRequest {
            reference: id.to_string(),
            token: token.clone(),
            return_url,
        })
        .await
        .map_err(|e| match e {
            crate::connector::ConnectorError::Unsupported(_) => Error::invalid(
                "medium_detail_id",
                format!("{gateway} can't update a saved card; add a new card instead"),
            ),
            other => Error::Internal(format!("starting a card update at {gateway}: {other}")),
        })?;
    let sql = "INSERT INTO card_updates (id, payment_method_id, gateway_id, gateway_reference, status, created_at)
               VALUES ($1, $2, $3, $4, 'pending', $5)";
    with_db!(db, pool => sqlx::query(sql)
        .bind(&id)
        .bind(&medium.id)
        .bind(gateway)
        .bind(&session.gateway_reference)
        .bind(Utc::now())
        .execute(pool)
        .await
        .map(|_| ()))?;
    tracing::info!(update = %id, medium = %medium.id, "card update started");
    Ok(Started { id, url: session.redirect_url })
}

/// Loads a card update.
pub async fn find(db: &crate::Db, id: &CardUpdateId) -> Result<Option<CardUpdate>> {
    let sql = "SELECT id, payment_method_id, gateway_id, gateway_reference, status, created_at FROM card_updates WHERE id = $1";
    let row: Option<Row> =
        with_db!(db, pool => sqlx::query_as(sql).bind(id).fetch_optional(pool).await)?;
    row.map(|r| {
        Ok(CardUpdate {
            status: stored("card_updates.status", &r.status)?,
            id: r.id,
            payment_method_id: r.payment_method_id,
            gateway_id: r.gateway_id,
            gateway_reference: r.gateway_reference,
            created_at: r.created_at,
        })
    })
    .transpose()
}

/// Settles a card update by asking its gateway (the customer is back, or a notification came):
/// a succeeded one puts the new card on the medium, exactly once. Answers the update as it
/// now stands.
pub async fn finish(payments: &Orchestrator, id: &CardUpdateId) -> Result<CardUpdate> {
    let db = payments.db();
    let mut update = find(db, id).await?.ok_or(Error::NotFound("card update"))?;
    if update.status != UpdateStatus::Pending {
        return Ok(update);
    }
    let answer = payments
        .connector(&update.gateway_id)?
        .card_update_status(&update.gateway_reference)
        .await
        .map_err(|e| {
            Error::Internal(format!("asking {} about a card update: {e}", update.gateway_id))
        })?;
    let (status, card) = match answer {
        CardUpdateStatus::Pending => return Ok(update),
        CardUpdateStatus::Succeeded(card) => (UpdateStatus::Succeeded, Some(card)),
        CardUpdateStatus::Failed { reason } => {
            tracing::info!(update = %id, %reason, "card update failed");
            (UpdateStatus::Failed, None)
        }
    };
    let mut tx = db.begin().await?;
    // Compare-and-set: of two returns (a double click), one applies the card.
    let sql = "UPDATE card_updates SET status = $2, completed_at = $3 WHERE id = $1 AND status = 'pending'";
    let moved = with_tx!(&mut tx, conn => sqlx::query(sql)
        .bind(id)
        .bind(status.as_str())
        .bind(Utc::now())
        .execute(conn)
        .await
        .map(|r| r.rows_affected()))?;
    if moved == 1
        && let Some(card) = &card
    {
        PaymentMethod::replace_card(&mut tx, &update.payment_method_id, card).await?;
    }
    tx.commit().await?;
    update = find(db, id).await?.ok_or(Error::NotFound("card update"))?;
    Ok(update)
}

/// Where the customer goes after an update: the client's `return` URL if its origin is
/// registered for the merchant of the medium's customer, else Settle's account page.
pub async fn way_back(
    db: &crate::Db,
    update: &CardUpdate,
    requested: Option<&str>,
) -> Result<String> {
    let Some(requested) = requested.map(str::trim).filter(|r| !r.is_empty()) else {
        return Ok(ACCOUNT_PAGE.to_owned());
    };
    // Settle's own customer pages (the payment methods page that started it) are always a safe
    // way back: a path on this site, never another one.
    if requested.starts_with("/account/") && !requested.contains("//") {
        return Ok(requested.to_owned());
    }
    let method = PaymentMethod::find(db, &update.payment_method_id).await?;
    let customer = match method.and_then(|m| m.customer_id) {
        Some(id) => Customer::find(db, &id).await?,
        None => None,
    };
    let merchant = match customer.and_then(|c| c.merchant_id) {
        Some(id) => Merchant::find(db, &id).await?,
        None => None,
    };
    Ok(match merchant.map(|m| registered_url(&m, requested, "return")) {
        Some(Ok(url)) => url.to_string(),
        _ => ACCOUNT_PAGE.to_owned(),
    })
}
