//! The gateway form, shared by the create and edit pages. Secrets are entered, never shown:
//! after saving the page only says whether one is set, and a blank field keeps it.

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use super::form::{CheckField, FormState, SelectField};
use crate::components::TextField;
use crate::components::field::error_id;

/// The gateway form as posted.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct GatewayForm {
    /// Key (create only).
    pub id: String,
    /// Display name.
    pub name: String,
    /// Provider.
    pub provider: String,
    /// Connector kind.
    pub kind: String,
    /// Currency.
    pub currency: String,
    /// Base URL.
    pub base_url: String,
    /// New API key (never kept or shown again).
    pub api_key: String,
    /// New signing secret (never kept or shown again).
    pub signing_secret: String,
    /// Timeout ms.
    pub timeout_ms: String,
    /// Checkbox.
    pub enabled: String,
    /// Settle after, seconds.
    pub settle_after_seconds: String,
    /// Reconciliation schedule.
    pub reconcile_schedule: String,
}

/// Fields in page order.
pub const ORDER: &[&str] = &[
    "id",
    "name",
    "provider",
    "kind",
    "currency",
    "base_url",
    "api_key",
    "signing_secret",
    "timeout_ms",
    "settle_after_seconds",
    "reconcile_schedule",
];

impl GatewayForm {
    /// The core's input.
    #[cfg(feature = "ssr")]
    pub fn input(&self) -> settle::gateway_config::GatewayInput {
        settle::gateway_config::GatewayInput {
            id: self.id.clone(),
            name: self.name.clone(),
            provider: self.provider.clone(),
            kind: self.kind.clone(),
            currency: self.currency.clone(),
            base_url: self.base_url.clone(),
            api_key: self.api_key.clone(),
            signing_secret: self.signing_secret.clone(),
            timeout_ms: self.timeout_ms.clone(),
            enabled: !self.enabled.is_empty(),
            settle_after_seconds: self.settle_after_seconds.clone(),
            reconcile_schedule: self.reconcile_schedule.clone(),
        }
    }

    /// The values to show again after a problem: everything but the secrets.
    pub fn shown(&self) -> FormState {
        FormState::of(&GatewayForm {
            api_key: String::new(),
            signing_secret: String::new(),
            ..self.clone()
        })
    }

    /// The form filled in from a stored gateway (its secrets only as set or not).
    #[cfg(feature = "ssr")]
    pub fn of(g: &settle::gateway_config::GatewayView) -> GatewayForm {
        GatewayForm {
            id: g.id.clone(),
            name: g.name.clone(),
            provider: g.provider.clone(),
            kind: g.kind.to_string(),
            currency: g.currency.code().to_owned(),
            base_url: g.base_url.clone().unwrap_or_default(),
            api_key: String::new(),
            signing_secret: String::new(),
            timeout_ms: g.timeout_ms.to_string(),
            enabled: if g.enabled { "on".into() } else { String::new() },
            settle_after_seconds: g.settle_after_seconds.map(|s| s.to_string()).unwrap_or_default(),
            reconcile_schedule: g
                .reconcile_schedule
                .as_ref()
                .map(|s| s.iter().map(ToString::to_string).collect::<Vec<_>>().join(", "))
                .unwrap_or_default(),
        }
    }
}

/// The connector kinds: (stored, in words).
pub const KINDS: &[(&str, &str)] = &[
    ("hosted_checkout", "Hosted checkout (customer redirected)"),
    ("card_3ds", "Card with 3-D Secure"),
    ("direct_debit", "Direct debit"),
    ("invoice", "Invoice"),
    ("payment_link", "Payment link"),
    ("off_system", "Off-system"),
    ("apple_pay", "Apple Pay"),
];

/// A secret's field: a password input that is never filled in, saying whether one is set.
#[component]
fn SecretField(
    label: &'static str,
    name: &'static str,
    set: bool,
    error: Option<String>,
    autofocus: bool,
) -> impl IntoView {
    let hint_id = format!("{name}-hint");
    let described = match &error {
        Some(_) => format!("{hint_id} {}", error_id(name)),
        None => hint_id.clone(),
    };
    let hint = if set {
        "Set. It is never shown again; leave blank to keep it, or enter a new one to replace it."
    } else {
        "Not set. Enter it to set it; it is never shown again."
    };
    let class = if error.is_some() { "field invalid" } else { "field" };
    let invalid = error.as_ref().map(|_| "true");
    view! {
        <div class=class>
            <label for=name>{label}</label>
            <small class="hint" id=hint_id>{hint}</small>
            <input type="password" id=name name=name value="" autocomplete="new-password" autofocus=autofocus aria-invalid=invalid aria-describedby=described />
            {error.map(|e| view! { <span class="field-error" id=error_id(name)>{label} " " {e} "."</span> })}
        </div>
    }
}

/// The gateway's fields. `creating`: its key can be entered. `secrets`: whether the API key
/// and signing secret are set.
#[component]
pub fn GatewayFields(state: FormState, creating: bool, secrets: (bool, bool)) -> impl IntoView {
    let s = state;
    let f = |name: &'static str| s.focus(ORDER, name);
    let kinds = KINDS.iter().map(|(v, t)| ((*v).to_owned(), (*t).to_owned())).collect::<Vec<_>>();
    view! {
        {creating.then(|| view! {
            <TextField label="Key" name="id" value=s.value("id") error=s.error("id") autocomplete="off" required=true hint="What clients submit, such as payfort-aed; it can't be changed later." maxlength=64 autofocus=f("id") />
        })}
        <TextField label="Display name" name="name" value=s.value("name") error=s.error("name") autocomplete="off" required=true maxlength=100 autofocus=f("name") />
        <TextField label="Provider" name="provider" value=s.value("provider") error=s.error("provider") autocomplete="off" required=true maxlength=100 autofocus=f("provider") />
        <SelectField label="Connector kind" name="kind" options=kinds selected=s.value("kind") error=s.error("kind") autofocus=f("kind") />
        <TextField label="Currency" name="currency" value=s.value("currency") error=s.error("currency") autocomplete="off" required=true maxlength=3 autofocus=f("currency") />
        <TextField label="Base URL" name="base_url" value=s.value("base_url") error=s.error("base_url") autocomplete="off" kind="url" hint="The provider's address; blank uses Settle's built-in sandbox." autofocus=f("base_url") />
        <SecretField label="API key" name="api_key" set=secrets.0 error=s.error("api_key") autofocus=f("api_key") />
        <SecretField label="Signing secret" name="signing_secret" set=secrets.1 error=s.error("signing_secret") autofocus=f("signing_secret") />
        <TextField label="Timeout (milliseconds)" name="timeout_ms" value=s.value("timeout_ms") error=s.error("timeout_ms") autocomplete="off" inputmode="numeric" autofocus=f("timeout_ms") />
        <CheckField label="Enabled (offered to customers)" name="enabled" checked=s.checked("enabled") />
        <TextField label="Settle after (seconds)" name="settle_after_seconds" value=s.value("settle_after_seconds") error=s.error("settle_after_seconds") autocomplete="off" inputmode="numeric" hint="Blank: the server's setting." autofocus=f("settle_after_seconds") />
        <TextField label="Reconciliation schedule (seconds)" name="reconcile_schedule" value=s.value("reconcile_schedule") error=s.error("reconcile_schedule") autocomplete="off" hint="Waits between asks, such as 5, 30, 120; blank: the server's schedule." autofocus=f("reconcile_schedule") />
    }
}
