//! The product form, shared by the create and edit pages: its posted fields, and the fields
//! on the page with a message each.

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use super::form::{CheckField, FormState, SelectField};
use crate::components::TextField;

/// The product form as posted (every field text; an unticked checkbox is absent, so empty).
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct ProductForm {
    /// Code (create only).
    pub code: String,
    /// Name.
    pub name: String,
    /// Merchant id, or blank.
    pub merchant_id: String,
    /// `policy` / `isp`.
    pub service_kind: String,
    /// `recurring_monthly` / `day_bundle` / `once_off`.
    pub billing_kind: String,
    /// Currency (create only).
    pub currency: String,
    /// Unit price excl. tax.
    pub unit_price: String,
    /// Tax %.
    pub tax_rate: String,
    /// Collection day.
    pub collection_day: String,
    /// Checkbox.
    pub auto_recharge: String,
    /// `on_payment` / `on_invoice`.
    pub invoice_activation: String,
    /// Checkbox: cards.
    pub kind_card: String,
    /// Checkbox: bank accounts.
    pub kind_bank_account: String,
    /// Checkbox: payment links.
    pub kind_payment_link: String,
    /// Checkbox: off-system.
    pub kind_off_system: String,
    /// Checkbox: the provider collects new details.
    pub kind_provider_selected: String,
    /// Recharge days before.
    pub recharge_days_before: String,
    /// Months ahead limit.
    pub months_ahead_limit: String,
    /// Checkbox.
    pub accepts_immediate_payments: String,
}

/// The method-kind checkboxes: (field, stored kind, label).
const KINDS: &[(&str, &str, &str)] = &[
    ("kind_card", "card", "Card"),
    ("kind_bank_account", "bank_account", "Bank account (debit order)"),
    ("kind_payment_link", "payment_link", "Payment link"),
    ("kind_off_system", "off_system", "Off-system (cash, EFT)"),
    ("kind_provider_selected", "provider_selected", "New details on the provider's page"),
];

/// The fields in page order: the first with a problem gets the focus.
pub const ORDER: &[&str] = &[
    "code",
    "name",
    "merchant_id",
    "service_kind",
    "billing_kind",
    "currency",
    "unit_price",
    "tax_rate",
    "collection_day",
    "auto_recharge",
    "invoice_activation",
    "method_kinds",
    "recharge_days_before",
    "months_ahead_limit",
];

impl ProductForm {
    /// The core's input.
    #[cfg(feature = "ssr")]
    pub fn input(&self) -> settle::product_config::ProductInput {
        let ticked = |v: &str| !v.is_empty();
        let form = serde_json::to_value(self).unwrap_or_default();
        settle::product_config::ProductInput {
            code: self.code.clone(),
            name: self.name.clone(),
            merchant_id: self.merchant_id.clone(),
            service_kind: self.service_kind.clone(),
            billing_kind: self.billing_kind.clone(),
            currency: self.currency.clone(),
            unit_price: self.unit_price.clone(),
            tax_rate: self.tax_rate.clone(),
            collection_day: self.collection_day.clone(),
            auto_recharge: ticked(&self.auto_recharge),
            invoice_activation: self.invoice_activation.clone(),
            method_kinds: KINDS
                .iter()
                .filter(|(field, _, _)| {
                    form.get(field).and_then(|v| v.as_str()).is_some_and(ticked)
                })
                .map(|(_, kind, _)| (*kind).to_owned())
                .collect(),
            recharge_days_before: self.recharge_days_before.clone(),
            months_ahead_limit: self.months_ahead_limit.clone(),
            accepts_immediate_payments: ticked(&self.accepts_immediate_payments),
        }
    }

    /// The form filled in from a stored product.
    #[cfg(feature = "ssr")]
    pub fn of(view: &settle::product_config::store::ProductView) -> ProductForm {
        let p = &view.scheme.product;
        let s = &view.scheme.settings;
        let on = |b: bool| if b { "on".to_owned() } else { String::new() };
        let kind = |k: &str| on(p.allowed_method_kinds.iter().any(|m| m.as_str() == k));
        ProductForm {
            code: p.code.clone(),
            name: p.name.clone(),
            merchant_id: p.merchant_id.as_ref().map(ToString::to_string).unwrap_or_default(),
            service_kind: p.service_kind.to_string(),
            billing_kind: p.billing_kind.to_string(),
            currency: p.unit_price.currency().code().to_owned(),
            unit_price: p.unit_price.to_decimal().to_string(),
            tax_rate: p.tax_rate.percent().to_string(),
            collection_day: p.collection_day.map(|d| d.to_string()).unwrap_or_default(),
            auto_recharge: on(p.auto_recharge),
            invoice_activation: view.invoice_activation.to_string(),
            kind_card: kind("card"),
            kind_bank_account: kind("bank_account"),
            kind_payment_link: kind("payment_link"),
            kind_off_system: kind("off_system"),
            kind_provider_selected: kind("provider_selected"),
            recharge_days_before: s.recharge_days_before.to_string(),
            months_ahead_limit: s.months_ahead_limit.to_string(),
            accepts_immediate_payments: on(s.accepts_immediate_payments),
        }
    }
}

fn choices(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter().map(|(v, t)| ((*v).to_owned(), (*t).to_owned())).collect()
}

/// The product's fields. `creating`: the code and currency can be entered (they are fixed
/// afterwards). `merchants`: (id, name).
#[component]
pub fn ProductFields(
    state: FormState,
    creating: bool,
    merchants: Vec<(String, String)>,
) -> impl IntoView {
    let s = state;
    let f = |name: &'static str| s.focus(ORDER, name);
    let mut merchant_choices = vec![(String::new(), "None".to_owned())];
    merchant_choices.extend(merchants);
    let kinds_error = s.error("method_kinds");
    let kinds_class = if kinds_error.is_some() { "field invalid" } else { "field" };
    let kinds_described = kinds_error.as_ref().map(|_| "method_kinds-error");
    view! {
        {creating.then(|| view! {
            <TextField label="Code" name="code" value=s.value("code") error=s.error("code") autocomplete="off" required=true hint="Letters, digits, '-' or '_'; it can't be changed later." maxlength=40 autofocus=f("code") />
        })}
        <TextField label="Name" name="name" value=s.value("name") error=s.error("name") autocomplete="off" required=true maxlength=100 autofocus=f("name") />
        <SelectField label="Merchant" name="merchant_id" options=merchant_choices selected=s.value("merchant_id") error=s.error("merchant_id") autofocus=f("merchant_id") />
        <SelectField label="What it activates" name="service_kind" options=choices(&[("isp", "An ISP service"), ("policy", "An insurance policy")]) selected=s.value("service_kind") error=s.error("service_kind") autofocus=f("service_kind") />
        <SelectField label="Billing" name="billing_kind" options=choices(&[("day_bundle", "Day bundles"), ("recurring_monthly", "Recurring monthly"), ("once_off", "Once-off")]) selected=s.value("billing_kind") error=s.error("billing_kind") autofocus=f("billing_kind") />
        {creating.then(|| view! {
            <TextField label="Currency" name="currency" value=s.value("currency") error=s.error("currency") autocomplete="off" required=true hint="Three letters, such as ZAR; it can't be changed later." maxlength=3 autofocus=f("currency") />
        })}
        <TextField label="Unit price (excluding tax)" name="unit_price" value=s.value("unit_price") error=s.error("unit_price") autocomplete="off" inputmode="decimal" hint="Per day, month or once; purchases already made keep their price." autofocus=f("unit_price") />
        <TextField label="Tax rate (%)" name="tax_rate" value=s.value("tax_rate") error=s.error("tax_rate") autocomplete="off" inputmode="decimal" autofocus=f("tax_rate") />
        <TextField label="Collection day" name="collection_day" value=s.value("collection_day") error=s.error("collection_day") autocomplete="off" inputmode="numeric" hint="Day of the month recurring payments are collected; blank for none." autofocus=f("collection_day") />
        <CheckField label="Auto-recharge before a bundle runs out" name="auto_recharge" checked=s.checked("auto_recharge") error=s.error("auto_recharge") />
        <SelectField label="Invoiced services become active" name="invoice_activation" options=choices(&[("on_payment", "When the invoice is paid"), ("on_invoice", "When the invoice is issued")]) selected=s.value("invoice_activation") error=s.error("invoice_activation") autofocus=f("invoice_activation") />
        <fieldset class=kinds_class aria-describedby=kinds_described>
            <legend>"Accepted payment methods"</legend>
            {KINDS.iter().map(|(field, _, label)| view! {
                <CheckField label=*label name=*field checked=s.checked(field) />
            }).collect_view()}
            {kinds_error.map(|e| view! { <span class="field-error" id="method_kinds-error">"Accepted payment methods " {e} "."</span> })}
        </fieldset>
        <TextField label="Recharge this many days before the end" name="recharge_days_before" value=s.value("recharge_days_before") error=s.error("recharge_days_before") autocomplete="off" inputmode="numeric" autofocus=f("recharge_days_before") />
        <TextField label="Months ahead a service may be paid" name="months_ahead_limit" value=s.value("months_ahead_limit") error=s.error("months_ahead_limit") autocomplete="off" inputmode="numeric" autofocus=f("months_ahead_limit") />
        <CheckField label="Customers may pay now (not only by collection)" name="accepts_immediate_payments" checked=s.checked("accepts_immediate_payments") />
    }
}
