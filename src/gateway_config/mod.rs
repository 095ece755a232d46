//! Operator configuration of gateways (connector instances): what an operator enters, its
//! rules (a message per field), and the masked view the pages show. Secrets (API key, signing
//! secret) go in and are never read back out: the view only says whether one is set.
//!
//! Every change bumps the configuration version ([`version`]) in its own transaction; each
//! server instance watches that number and reloads its connectors when it moves, so a change
//! applies everywhere within a second or so, without a restart.

pub mod store;
pub mod version;

use chrono::{DateTime, Utc};
use url::Url;

use crate::error::{Error, FieldError, Result};
use crate::gateway::GatewayKind;
use crate::money::Currency;

/// The longest timeout an operator may give a gateway (two minutes).
const MAX_TIMEOUT_MS: i64 = 120_000;
/// The longest single wait in a reconciliation schedule (a week).
const MAX_SCHEDULE_STEP: i64 = 7 * 24 * 3600;

/// The gateway form as typed: every field text, checked by [`GatewayInput::check`].
#[derive(Clone, Debug, Default)]
pub struct GatewayInput {
    /// The key clients submit (`payfort-aed`); only read when creating.
    pub id: String,
    /// Display name.
    pub name: String,
    /// Who runs it.
    pub provider: String,
    /// The connector kind (`hosted_checkout`, `card_3ds`, …).
    pub kind: String,
    /// ISO currency code.
    pub currency: String,
    /// The provider's base URL; blank: Settle's built-in sandbox of this kind.
    pub base_url: String,
    /// A new API key; blank keeps the one stored.
    pub api_key: String,
    /// A new signing secret; blank keeps the one stored.
    pub signing_secret: String,
    /// Request timeout in milliseconds.
    pub timeout_ms: String,
    /// Whether it is offered.
    pub enabled: bool,
    /// Seconds after which an unsettled payment is asked about; blank: the global setting.
    pub settle_after_seconds: String,
    /// Reconciliation waits in seconds, comma-separated; blank: the global schedule.
    pub reconcile_schedule: String,
}

/// A secret field's change: kept as stored, or replaced.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SecretChange {
    /// Leave the stored value (the field was left blank).
    Keep,
    /// Replace it with this value.
    Set(String),
}

/// Checked gateway settings, ready to store.
#[derive(Clone, Debug)]
pub struct GatewaySettings {
    /// Display name.
    pub name: String,
    /// Who runs it.
    pub provider: String,
    /// The connector kind.
    pub kind: GatewayKind,
    /// The currency it settles in.
    pub currency: Currency,
    /// The provider's base URL (`None`: the sandbox).
    pub base_url: Option<Url>,
    /// The API key's change.
    pub api_key: SecretChange,
    /// The signing secret's change.
    pub signing_secret: SecretChange,
    /// Request timeout in milliseconds.
    pub timeout_ms: i64,
    /// Whether it is offered.
    pub enabled: bool,
    /// Seconds after which an unsettled payment is asked about (`None`: global).
    pub settle_after_seconds: Option<i64>,
    /// Reconciliation waits in seconds (`None`: global).
    pub reconcile_schedule: Option<Vec<i64>>,
}

/// A gateway as the operator pages show it: secrets only as "set" or not.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GatewayView {
    /// The client-visible key.
    pub id: String,
    /// Display name.
    pub name: String,
    /// Who runs it.
    pub provider: String,
    /// The connector kind.
    pub kind: GatewayKind,
    /// Its currency.
    pub currency: Currency,
    /// The provider's base URL (`None`: the sandbox).
    pub base_url: Option<String>,
    /// Whether an API key is stored.
    pub api_key_set: bool,
    /// Whether a signing secret is stored.
    pub signing_secret_set: bool,
    /// Request timeout in milliseconds.
    pub timeout_ms: i64,
    /// Whether it is offered.
    pub enabled: bool,
    /// Settle-after override in seconds.
    pub settle_after_seconds: Option<i64>,
    /// Reconciliation schedule override, seconds.
    pub reconcile_schedule: Option<Vec<i64>>,
    /// When it was configured.
    pub created_at: DateTime<Utc>,
}

/// Keeps a field's value, or its message in `errors` (so a form gets every message at once).
pub(crate) fn keep<T>(errors: &mut Vec<FieldError>, r: Result<T, FieldError>) -> Option<T> {
    r.map_err(|e| errors.push(e)).ok()
}

/// A gateway key: letters, digits, `-` or `_`, at most 64 characters.
pub fn check_id(id: &str) -> Result<String, FieldError> {
    let id = id.trim();
    if id.is_empty()
        || id.len() > 64
        || !id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        return Err(FieldError::new(
            "id",
            "must be 1 to 64 letters, digits, '-' or '_' (such as payfort-aed)",
        ));
    }
    Ok(id.to_ascii_lowercase())
}

/// A required text of at most `max` characters.
fn required(field: &str, value: &str, max: usize) -> Result<String, FieldError> {
    let value = value.trim();
    if value.is_empty() {
        return Err(FieldError::new(field, "is required"));
    }
    if value.chars().count() > max {
        return Err(FieldError::new(field, format!("must be at most {max} characters")));
    }
    Ok(value.to_owned())
}

/// A secret as entered: blank keeps the stored one.
fn secret(field: &str, value: &str) -> Result<SecretChange, FieldError> {
    let value = value.trim();
    if value.is_empty() {
        return Ok(SecretChange::Keep);
    }
    if value.len() > 512 || value.chars().any(char::is_control) {
        return Err(FieldError::new(field, "must be at most 512 characters on one line"));
    }
    Ok(SecretChange::Set(value.to_owned()))
}

/// Parses a whole number in `range`, or blank when `optional`.
fn number(
    field: &str,
    value: &str,
    range: std::ops::RangeInclusive<i64>,
    unit: &str,
) -> Result<Option<i64>, FieldError> {
    let value = value.trim();
    if value.is_empty() {
        return Ok(None);
    }
    match value.parse::<i64>() {
        Ok(n) if range.contains(&n) => Ok(Some(n)),
        _ => Err(FieldError::new(
            field,
            format!("must be a whole number of {unit} from {} to {}", range.start(), range.end()),
        )),
    }
}

/// Parses a reconciliation schedule: 1 to 10 waits in seconds, comma-separated.
fn schedule(value: &str) -> Result<Option<Vec<i64>>, FieldError> {
    let value = value.trim();
    if value.is_empty() {
        return Ok(None);
    }
    let steps: Option<Vec<i64>> = value
        .split(',')
        .map(|s| s.trim().parse::<i64>().ok().filter(|n| (1..=MAX_SCHEDULE_STEP).contains(n)))
        .collect();
    match steps {
        Some(steps) if !steps.is_empty() && steps.len() <= 10 => Ok(Some(steps)),
        _ => Err(FieldError::new(
            "reconcile_schedule",
            format!(
                "must be 1 to 10 waits in seconds separated by commas (such as 5, 30, 120), each from 1 to {MAX_SCHEDULE_STEP}"
            ),
        )),
    }
}

impl GatewayInput {
    /// Checks a new gateway: its key and every field, one message per field that is wrong.
    pub fn check_new(&self) -> Result<(String, GatewaySettings)> {
        let id = check_id(&self.id);
        match (id, self.check()) {
            (Ok(id), Ok(settings)) => Ok((id, settings)),
            (Err(e), Ok(_)) => Err(e.into()),
            (Ok(_), Err(e)) => Err(e),
            (Err(e), Err(Error::Validation(mut errors))) => {
                errors.insert(0, e);
                Err(Error::Validation(errors))
            }
            (Err(_), Err(other)) => Err(other),
        }
    }

    /// Checks every field but the key, collecting one message per field that is wrong.
    pub fn check(&self) -> Result<GatewaySettings> {
        let mut errors = Vec::new();
        let name = keep(&mut errors, required("name", &self.name, 100));
        let provider = keep(&mut errors, required("provider", &self.provider, 100));
        let kind = keep(
            &mut errors,
            self.kind
                .trim()
                .parse::<GatewayKind>()
                .map_err(|_| FieldError::new("kind", "must be one of the connector kinds listed")),
        );
        let currency =
            keep(&mut errors, Currency::parse(&self.currency).map_err(|e| e.at("currency")));
        let base_url = keep(&mut errors, base_url(&self.base_url));
        let api_key = keep(&mut errors, secret("api_key", &self.api_key));
        let signing_secret = keep(&mut errors, secret("signing_secret", &self.signing_secret));
        let timeout_ms = keep(
            &mut errors,
            number("timeout_ms", &self.timeout_ms, 100..=MAX_TIMEOUT_MS, "milliseconds")
                .and_then(|n| n.ok_or_else(|| FieldError::new("timeout_ms", "is required"))),
        );
        let settle_after = keep(
            &mut errors,
            number("settle_after_seconds", &self.settle_after_seconds, 1..=86_400, "seconds"),
        );
        let reconcile_schedule = keep(&mut errors, schedule(&self.reconcile_schedule));
        match (
            name,
            provider,
            kind,
            currency,
            base_url,
            api_key,
            signing_secret,
            timeout_ms,
            settle_after,
            reconcile_schedule,
        ) {
            (
                Some(name),
                Some(provider),
                Some(kind),
                Some(currency),
                Some(base_url),
                Some(api_key),
                Some(signing_secret),
                Some(timeout_ms),
                Some(settle_after_seconds),
                Some(reconcile_schedule),
            ) if errors.is_empty() => Ok(GatewaySettings {
                name,
                provider,
                kind,
                currency,
                base_url,
                api_key,
                signing_secret,
                timeout_ms,
                enabled: self.enabled,
                settle_after_seconds,
                reconcile_schedule,
            }),
            _ => Err(Error::Validation(errors)),
        }
    }
}

/// A provider's base URL: blank (the sandbox), or an absolute http(s) URL without credentials.
fn base_url(value: &str) -> Result<Option<Url>, FieldError> {
    let value = value.trim();
    if value.is_empty() {
        return Ok(None);
    }
    let url = Url::parse(value).map_err(|_| {
        FieldError::new("base_url", "must be a full address such as https://pay.example.com")
    })?;
    if !matches!(url.scheme(), "https" | "http") || url.host().is_none() {
        return Err(FieldError::new(
            "base_url",
            "must start with https:// (or http://) and name a host",
        ));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(FieldError::new(
            "base_url",
            "may not hold credentials: put the key in the API key field",
        ));
    }
    Ok(Some(url))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input() -> GatewayInput {
        GatewayInput {
            id: "payfort-aed".into(),
            name: "Payfort AED".into(),
            provider: "Payfort".into(),
            kind: "hosted_checkout".into(),
            currency: "AED".into(),
            timeout_ms: "10000".into(),
            enabled: true,
            ..GatewayInput::default()
        }
    }

    #[test]
    fn every_wrong_field_gets_its_own_message() {
        let mut bad = input();
        bad.name = " ".into();
        bad.kind = "teleport".into();
        bad.base_url = "ftp://x".into();
        bad.timeout_ms = "5".into();
        bad.reconcile_schedule = "5, soon".into();
        let Err(Error::Validation(errors)) = bad.check() else { panic!("accepted") };
        let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["name", "kind", "base_url", "timeout_ms", "reconcile_schedule"]);
    }

    #[test]
    fn blank_secrets_keep_the_stored_ones() {
        let settings = input().check().unwrap();
        assert_eq!(settings.api_key, SecretChange::Keep);
        let mut new = input();
        new.signing_secret = " whsec ".into();
        new.reconcile_schedule = "5, 30,120".into();
        let settings = new.check().unwrap();
        assert_eq!(settings.signing_secret, SecretChange::Set("whsec".into()));
        assert_eq!(settings.reconcile_schedule, Some(vec![5, 30, 120]));
        assert!(check_id("bad key").is_err());
        assert_eq!(check_id("PayFort-AED").unwrap(), "payfort-aed");
    }
}
