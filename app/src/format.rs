//! Words and figures as customers read them: dates, addresses, a service's status, how long
//! cover lasts. Amounts use the core's [`settle::money::Money::display`] and payment states
//! [`settle::payment::PaymentState::label`]; nothing here shows a code's internal name.

use chrono::{DateTime, Utc};
use settle::payment_method::{MethodKind, MethodStatus, PaymentMethod};
use settle::purchase::{LineType, PurchaseLine};
use settle::service::BillingStatus;

/// A date as people write it: "4 February 2026".
pub fn long_date(at: DateTime<Utc>) -> String {
    at.format("%-d %B %Y").to_string()
}

/// A date and time: "4 February 2026, 14:05 UTC".
pub fn date_time(at: DateTime<Utc>) -> String {
    at.format("%-d %B %Y, %H:%M UTC").to_string()
}

/// A service's lifecycle status in words. Services keep their seed's words (`quoted`,
/// `active`, `Active`, `PendingIspApplication`); the customer reads "Quote", "Active",
/// "Pending ISP application".
pub fn service_status(status: &str) -> String {
    match status.trim().to_ascii_lowercase().as_str() {
        "quoted" | "quote" => "Quote".into(),
        "active" => "Active".into(),
        "" => "Unknown".into(),
        _ => words(status.trim()),
    }
}

/// Whether a service's bills are paid, in words.
pub fn billing_status(status: BillingStatus) -> &'static str {
    match status {
        BillingStatus::PaidUp => "Paid up",
        BillingStatus::InArrears => "In arrears",
        BillingStatus::Unbilled => "Not billed yet",
    }
}

/// `PendingIspApplication` or `pending_isp_application` as "Pending ISP application".
fn words(code: &str) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut current = String::new();
    let chars: Vec<char> = code.chars().collect();
    for (i, &c) in chars.iter().enumerate() {
        if c == '_' || c == '-' || c == ' ' {
            if !current.is_empty() {
                parts.push(std::mem::take(&mut current));
            }
            continue;
        }
        // A capital starts a word unless it continues an abbreviation (ISP in IspThing is
        // rare; "ISPApplication" splits before the last capital).
        let starts_word = c.is_uppercase()
            && !current.is_empty()
            && (!chars[i - 1].is_uppercase() || chars.get(i + 1).is_some_and(|n| n.is_lowercase()));
        if starts_word {
            parts.push(std::mem::take(&mut current));
        }
        current.push(c);
    }
    if !current.is_empty() {
        parts.push(current);
    }
    let known = ["isp", "id", "sms"];
    parts
        .iter()
        .enumerate()
        .map(|(i, part)| {
            let lower = part.to_lowercase();
            if known.contains(&lower.as_str()) {
                lower.to_uppercase()
            } else if i == 0 {
                let mut c = lower.chars();
                c.next().map(|f| f.to_uppercase().chain(c).collect()).unwrap_or_default()
            } else {
                lower
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// How long the lines' cover lasts, as fulfilment counts it: day lines in days, the others in
/// months.
pub fn cover_length(lines: &[PurchaseLine]) -> Option<String> {
    let (mut days, mut months) = (0i64, 0i64);
    for line in lines {
        let length = line.quantity.saturating_mul(line.period_per_quantity);
        match line.line_type {
            LineType::Day => days = days.saturating_add(length),
            _ => months = months.saturating_add(length),
        }
    }
    let plural = |n: i64, unit: &str| format!("{n} {unit}{}", if n == 1 { "" } else { "s" });
    match (days, months) {
        (0, 0) => None,
        (0, m) => Some(plural(m, "month")),
        (d, 0) => Some(plural(d, "day")),
        (d, m) => Some(format!("{} and {}", plural(m, "month"), plural(d, "day"))),
    }
}

/// The scheme's name without the insurer's name repeated in front of it
/// ("Trinity Lane - Short Term Test" from insurer "Trinity Lane" is "Short Term Test"), or
/// `None` when it adds nothing to the insurer's and the product's names.
pub fn scheme_name(insurer: Option<&str>, scheme: Option<&str>, product: &str) -> Option<String> {
    let scheme = scheme?.trim();
    if scheme.is_empty() || scheme.eq_ignore_ascii_case(product.trim()) {
        return None;
    }
    let short = match insurer.map(str::trim).filter(|i| !i.is_empty()) {
        Some(insurer) if scheme.eq_ignore_ascii_case(insurer) => return None,
        Some(insurer) => scheme
            .get(..insurer.len())
            .filter(|head| head.eq_ignore_ascii_case(insurer))
            .map(|_| scheme[insurer.len()..].trim_start_matches([' ', '-', ':', ',', '–', '·']))
            .filter(|rest| !rest.is_empty())
            .unwrap_or(scheme),
        None => scheme,
    };
    Some(short.to_owned())
}

/// A payment method (medium) as customers name it: "Visa ending 4242", "Bank account ending
/// 6789", "Payment link", "Pay at a store or by EFT", "Add new payment method".
pub fn medium_name(method: &PaymentMethod) -> String {
    match method.kind {
        MethodKind::Card => {
            let brand = method.card_brand.as_deref().map(card_brand).filter(|b| !b.is_empty());
            match (brand, method.card_last4.as_deref()) {
                (brand, Some(last4)) => {
                    format!("{} ending {last4}", brand.as_deref().unwrap_or("Card"))
                }
                (Some(brand), None) => format!("{brand} card"),
                (None, None) => "Card".into(),
            }
        }
        MethodKind::BankAccount => {
            let digits: String = method
                .bank_account_masked
                .as_deref()
                .unwrap_or_default()
                .chars()
                .filter(char::is_ascii_alphanumeric)
                .collect();
            match digits.get(digits.len().saturating_sub(4)..).filter(|d| d.len() == 4) {
                Some(last4) => format!("Bank account ending {last4}"),
                None => "Bank account".into(),
            }
        }
        MethodKind::PaymentLink => "Payment link".into(),
        MethodKind::OffSystem => "Pay at a store or by EFT".into(),
        MethodKind::ProviderSelected => "Add new payment method".into(),
    }
}

/// A card brand as its owner writes it ("VISA" and "visa" are "Visa").
fn card_brand(brand: &str) -> String {
    match brand.trim().to_ascii_lowercase().as_str() {
        "visa" => "Visa".into(),
        "mastercard" | "master" | "mc" => "Mastercard".into(),
        "amex" | "american express" => "American Express".into(),
        "diners" | "diners club" => "Diners Club".into(),
        "maestro" => "Maestro".into(),
        _ => brand.trim().to_owned(),
    }
}

/// What else a customer needs to know about a medium: a card's expiry ("expires 12/29"), how a
/// link or an off-system payment works.
pub fn medium_detail(method: &PaymentMethod) -> Option<String> {
    match method.kind {
        MethodKind::Card => method
            .card_expiry
            .as_deref()
            .filter(|e| e.len() == 4 && e.chars().all(|c| c.is_ascii_digit()))
            .map(|e| format!("expires {}/{}", &e[..2], &e[2..])),
        MethodKind::BankAccount => Some("debit order".into()),
        MethodKind::PaymentLink => Some("pay on the provider's secure page".into()),
        MethodKind::OffSystem => Some("quote your service number as the reference".into()),
        MethodKind::ProviderSelected => {
            Some("enter a new card on the provider's secure page".into())
        }
    }
}

/// Whether a medium can be used, in words; `None` when it can.
pub fn medium_status(status: MethodStatus) -> Option<&'static str> {
    match status {
        MethodStatus::Valid => None,
        MethodStatus::Expired => Some("Expired"),
        MethodStatus::Invalid => Some("Not accepted"),
        MethodStatus::Incomplete => Some("Being set up"),
    }
}

/// How long a service is paid for, in words: "Paid up until 5 January 2027" while its period
/// runs, "Paid until 20 October 2026" once it has ended.
pub fn paid_until(period_end: Option<DateTime<Utc>>, now: DateTime<Utc>) -> Option<String> {
    period_end.map(|end| {
        if end > now {
            format!("Paid up until {}", long_date(end))
        } else {
            format!("Paid until {}", long_date(end))
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_read_as_words() {
        assert_eq!(service_status("quoted"), "Quote");
        assert_eq!(service_status("active"), "Active");
        assert_eq!(service_status("Active"), "Active");
        assert_eq!(service_status("Suspended"), "Suspended");
        assert_eq!(service_status("PendingIspApplication"), "Pending ISP application");
        assert_eq!(service_status("awaiting_first_payment"), "Awaiting first payment");
        assert_eq!(service_status("ISPApplication"), "ISP application");
        assert_eq!(billing_status(BillingStatus::InArrears), "In arrears");
        assert_eq!(billing_status(BillingStatus::PaidUp), "Paid up");
        assert_eq!(billing_status(BillingStatus::Unbilled), "Not billed yet");
    }

    #[test]
    fn cover_is_counted_like_fulfilment_counts_it() {
        use settle::money::{Currency, Money};
        use settle::tax::{TaxRate, TaxSplit};
        let line = |line_type, quantity, period_per_quantity| PurchaseLine {
            id: "l".into(),
            line_type,
            description: String::new(),
            quantity,
            unit_price: Money::zero(Currency::GBP),
            period_per_quantity,
            tax_rate: TaxRate::from_basis_points(0).unwrap(),
            amounts: TaxSplit::zero(Currency::GBP),
        };
        assert_eq!(cover_length(&[line(LineType::OnceOff, 1, 12)]).as_deref(), Some("12 months"));
        assert_eq!(cover_length(&[line(LineType::Day, 4, 1)]).as_deref(), Some("4 days"));
        assert_eq!(
            cover_length(&[line(LineType::Monthly, 1, 1), line(LineType::Day, 1, 1)]).as_deref(),
            Some("1 month and 1 day")
        );
        assert_eq!(cover_length(&[]), None);
    }

    #[test]
    fn schemes_do_not_repeat_the_insurer_or_the_product() {
        let product = "Motor Comprehensive (annual)";
        assert_eq!(
            scheme_name(Some("Trinity Lane"), Some("Trinity Lane - Short Term Test"), product)
                .as_deref(),
            Some("Short Term Test")
        );
        assert_eq!(
            scheme_name(Some("Trinity Lane"), Some("Demo Motor Comprehensive"), product).as_deref(),
            Some("Demo Motor Comprehensive")
        );
        // The product already carries the scheme's name.
        let short = "Trinity Lane - Short Term Test";
        assert_eq!(scheme_name(Some("Trinity Lane"), Some(short), short), None);
        assert_eq!(scheme_name(Some("Trinity Lane"), Some("Trinity Lane"), product), None);
        assert_eq!(scheme_name(None, Some(" "), product), None);
        assert_eq!(scheme_name(None, Some("Gold"), product).as_deref(), Some("Gold"));
    }

    #[test]
    fn dates_read_as_written() {
        use chrono::TimeZone;
        let at = Utc.with_ymd_and_hms(2026, 2, 4, 14, 5, 0).unwrap();
        assert_eq!(long_date(at), "4 February 2026");
        assert_eq!(date_time(at), "4 February 2026, 14:05 UTC");
    }

    #[test]
    fn mediums_read_as_customers_name_them() {
        let mut card = PaymentMethod::new(None, MethodKind::Card, "test 4242");
        card.card_brand = Some("Visa".into());
        card.card_last4 = Some("4242".into());
        card.card_expiry = Some("1229".into());
        assert_eq!(medium_name(&card), "Visa ending 4242");
        card.card_brand = Some("VISA".into());
        assert_eq!(medium_name(&card), "Visa ending 4242");
        assert_eq!(medium_detail(&card).as_deref(), Some("expires 12/29"));
        let mut bank = PaymentMethod::new(None, MethodKind::BankAccount, "J Smith");
        bank.bank_account_masked = Some("DE89 **** **** 3000".into());
        assert_eq!(medium_name(&bank), "Bank account ending 3000");
        let off = PaymentMethod::new(None, MethodKind::OffSystem, "N/A");
        assert_eq!(medium_name(&off), "Pay at a store or by EFT");
        assert_eq!(medium_status(MethodStatus::Expired), Some("Expired"));
        assert_eq!(medium_status(MethodStatus::Valid), None);
    }

    #[test]
    fn periods_read_as_paid_up_until_a_date() {
        use chrono::TimeZone;
        let now = Utc.with_ymd_and_hms(2026, 12, 1, 0, 0, 0).unwrap();
        let end = Utc.with_ymd_and_hms(2027, 1, 5, 0, 0, 0).unwrap();
        assert_eq!(paid_until(Some(end), now).as_deref(), Some("Paid up until 5 January 2027"));
        let ended = Utc.with_ymd_and_hms(2026, 10, 20, 0, 0, 0).unwrap();
        assert_eq!(paid_until(Some(ended), now).as_deref(), Some("Paid until 20 October 2026"));
        assert_eq!(paid_until(None, now), None);
    }
}
