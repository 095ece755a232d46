//! An ISP service's pages, under `/account/services/{serviceId}`: pay what is owed now
//! ([`pay`], posting to [`pay::pay_service`]), buy bundles or months ahead ([`buy`]: choose,
//! then pay the core's priced quote on [`pay`]'s page) and the result of paying ([`result`]). The data
//! comes from the core's `settle::service_standing` (what is owed, the mediums, the active one)
//! through the core's access rule: another customer's service is a 404, like one that doesn't
//! exist.

pub mod buy;
pub mod pay;
pub mod result;

use serde::{Deserialize, Serialize};

#[cfg(feature = "ssr")]
use crate::PageError;

/// What a service's pages say when the service isn't the customer's (or isn't there).
pub const NO_SUCH_SERVICE: &str = "We can't find that service on your account.";

/// One line of what is owed, in words and figures as customers read them.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct OwedLine {
    /// What it is for ("Fibre 20/10, monthly").
    pub description: String,
    /// How much of it, when more than one ("30 days").
    pub quantity: Option<String>,
    /// Amount including tax ("ZAR 379.16").
    pub total: String,
}

/// What is owed on a service now (the core's `must_pay` purchase).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Owed {
    /// The purchase's id: the pay form names it, so a form sent after it changed pays nothing
    /// else.
    pub purchase: String,
    /// Its lines.
    pub lines: Vec<OwedLine>,
    /// Excluding tax.
    pub excl: String,
    /// The tax.
    pub tax: String,
    /// The amount payable.
    pub total: String,
}

/// A way to pay the customer can choose.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct MediumChoice {
    /// The medium's id (the form's value).
    pub id: String,
    /// Its name in words ("Visa ending 4242").
    pub name: String,
    /// What else to know ("expires 12/29").
    pub detail: Option<String>,
    /// Whether it is the service's active medium (future purchases are collected with it).
    pub active: bool,
    /// Whether it is "Add new payment method" (a new card on the provider's page).
    pub is_new: bool,
}

/// The customer's service with this id and where it stands, or `None` if it isn't theirs, isn't
/// there, or is an insurance policy (policies are paid through the checkout).
#[cfg(feature = "ssr")]
pub async fn standing(
    ctx: &crate::PageContext,
    user: &settle::account::User,
    service: &str,
) -> Result<Option<settle::service_standing::Standing>, PageError> {
    use settle::product::ServiceKind;

    let viewer = crate::pages::account::shared::payer(user)?;
    let service = service.trim();
    if service.is_empty() || service.len() > 200 || service.chars().any(char::is_control) {
        return Ok(None);
    }
    match settle::service_standing::of_service(&ctx.db, &viewer, service).await {
        Ok(standing) if standing.service.kind == ServiceKind::Policy => Ok(None),
        Ok(standing) => Ok(Some(standing)),
        Err(settle::Error::NotFound(_)) => Ok(None),
        Err(e) => Err(PageError::logged("loading the service")(e)),
    }
}

/// The words of the link to buy ahead on a service, when the core says it can (`can_buy`):
/// "Buy now" for day bundles, "Make payment" for months ahead of a monthly service.
#[cfg(feature = "ssr")]
pub fn buy_words(standing: &settle::service_standing::Standing) -> Option<&'static str> {
    use settle::billing::scheme::BuyKind;

    standing.can_buy.as_ref().filter(|b| !b.options.is_empty()).map(|b| match b.kind {
        BuyKind::DayBundles => "Buy now",
        BuyKind::MonthsAhead => "Make payment",
    })
}

/// What is owed on a purchase, in words.
#[cfg(feature = "ssr")]
pub fn owed(purchase: &settle::purchase::Purchase) -> Owed {
    use settle::purchase::LineType;

    let lines = purchase
        .lines
        .iter()
        .map(|line| {
            let unit = match line.line_type {
                LineType::Day => "day",
                _ => "month",
            };
            let period = line.period_per_quantity;
            let each = format!("{period} {unit}{}", if period == 1 { "" } else { "s" });
            let quantity = match line.quantity {
                1 if period == 1 => None,
                1 => Some(each),
                n => Some(format!("{n} × {each}")),
            };
            OwedLine {
                description: line.description.clone(),
                quantity,
                total: line.amounts.gross().display().to_string(),
            }
        })
        .collect();
    Owed {
        purchase: purchase.id.to_string(),
        lines,
        excl: purchase.amounts.excl().display().to_string(),
        tax: purchase.amounts.tax().display().to_string(),
        total: purchase.amounts.gross().display().to_string(),
    }
}

/// The mediums of a standing as choices, the active one marked; the ones a customer can't pay
/// with on a page (off-system: at a store or by EFT, allocated by staff) are left out.
#[cfg(feature = "ssr")]
pub fn choices(standing: &settle::service_standing::Standing) -> Vec<MediumChoice> {
    use settle::payment_method::MethodKind;

    use crate::format::{medium_detail, medium_name};

    standing
        .mediums
        .iter()
        .filter(|m| m.kind != MethodKind::OffSystem)
        .map(|m| MediumChoice {
            id: m.id.to_string(),
            name: medium_name(m),
            detail: medium_detail(m),
            active: standing.service.active_payment_method_id.as_ref() == Some(&m.id),
            is_new: m.kind == MethodKind::ProviderSelected,
        })
        .collect()
}
