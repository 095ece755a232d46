//! What the operator's forms share: the values and per-field messages a form comes back with
//! after a problem (kept in the session across the redirect, read once by the next page), and
//! the select and checkbox fields next to the shared `TextField`.

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use crate::components::FieldErrors;
use crate::components::field::error_id;

/// Session key of the form kept across a failed post.
#[cfg(feature = "ssr")]
const FORM_KEY: &str = "operator.form";

/// A form's values and its problems per field.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FormState {
    /// The values as entered (never a secret), by field name.
    pub values: Vec<(String, String)>,
    /// The problems per field.
    pub errors: FieldErrors,
}

impl FormState {
    /// A form with these values and no problems.
    pub fn with(values: Vec<(&str, String)>) -> FormState {
        FormState {
            values: values.into_iter().map(|(k, v)| (k.to_owned(), v)).collect(),
            errors: FieldErrors::default(),
        }
    }

    /// A form's fields as its values (a struct of text fields, such as a posted form).
    pub fn of(form: &impl Serialize) -> FormState {
        let values = match serde_json::to_value(form) {
            Ok(serde_json::Value::Object(map)) => map
                .into_iter()
                .map(|(k, v)| (k, v.as_str().map(str::to_owned).unwrap_or_default()))
                .collect(),
            _ => Vec::new(),
        };
        FormState { values, errors: FieldErrors::default() }
    }

    /// The value of `name` ("" if none).
    pub fn value(&self, name: &str) -> String {
        self.values.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone()).unwrap_or_default()
    }

    /// Whether the checkbox `name` is ticked.
    pub fn checked(&self, name: &str) -> bool {
        !self.value(name).is_empty()
    }

    /// The problem with `name`.
    pub fn error(&self, name: &str) -> Option<String> {
        self.errors.get(name)
    }

    /// Whether `name` is the first field in `order` with a problem (it gets the focus).
    pub fn focus(&self, order: &[&'static str], name: &str) -> bool {
        self.errors.first_of(order) == Some(name)
    }
}

/// The form `form` kept by the last failed post, if that was this form.
#[cfg(feature = "ssr")]
pub async fn kept(form: &str) -> Result<Option<FormState>, crate::PageError> {
    let session: tower_sessions::Session = leptos_axum::extract().await?;
    let kept = session.remove::<(String, FormState)>(FORM_KEY).await.ok().flatten();
    Ok(kept.filter(|(name, _)| name == form).map(|(_, state)| state))
}

/// Answers a failed post of `form`: invalid fields go back to `back` with a message each (and
/// the values entered), anything else as one message.
#[cfg(feature = "ssr")]
pub async fn fail(
    form: &str,
    mut state: FormState,
    error: settle::Error,
    back: &str,
) -> Result<(), crate::PageError> {
    use crate::flash::{Flash, redirect_with};
    let message = match error {
        settle::Error::Validation(errors) => {
            let count = errors.len();
            state.errors = FieldErrors(errors.into_iter().map(|e| (e.field, e.message)).collect());
            let session: tower_sessions::Session = leptos_axum::extract().await?;
            session.insert(FORM_KEY, (form.to_owned(), state)).await.map_err(|e| {
                tracing::error!(error = %e, "keeping a form failed");
                crate::PageError::unavailable(crate::error::SESSIONS_UNAVAILABLE)
            })?;
            if count == 1 {
                "Nothing was saved. Please correct the detail marked below.".to_owned()
            } else {
                format!("Nothing was saved. Please correct the {count} details marked below.")
            }
        }
        settle::Error::NotFound(what) => format!("That {what} no longer exists."),
        settle::Error::Conflict(why) => format!("Nothing was saved: {why}."),
        other => {
            tracing::error!(error = %other, form, "saving configuration failed");
            "Nothing was saved: the configuration can't be changed right now. Please try again."
                .to_owned()
        }
    };
    redirect_with(Flash::error(message), back).await
}

/// A labelled select with its error.
#[component]
pub fn SelectField(
    /// The visible label.
    label: &'static str,
    /// The select's name (and id).
    name: &'static str,
    /// (value, text) of each choice.
    options: Vec<(String, String)>,
    /// The chosen value.
    #[prop(into)]
    selected: String,
    /// The problem with it, if any.
    #[prop(optional_no_strip)]
    error: Option<String>,
    /// Whether it gets the focus.
    #[prop(optional)]
    autofocus: bool,
) -> impl IntoView {
    let described = error.as_ref().map(|_| error_id(name));
    let invalid = error.as_ref().map(|_| "true");
    let class = if error.is_some() { "field invalid" } else { "field" };
    view! {
        <div class=class>
            <label for=name>{label}</label>
            <select id=name name=name autofocus=autofocus aria-invalid=invalid aria-describedby=described>
                {options.into_iter().map(|(value, text)| {
                    let is = value == selected;
                    view! { <option value=value selected=is>{text}</option> }
                }).collect_view()}
            </select>
            {error.map(|e| view! { <span class="field-error" id=error_id(name)>{label} " " {e} "."</span> })}
        </div>
    }
}

/// A checkbox with its label and error.
#[component]
pub fn CheckField(
    /// The visible label.
    label: &'static str,
    /// The checkbox's name (and id).
    name: &'static str,
    /// Whether it is ticked.
    checked: bool,
    /// The problem with it, if any.
    #[prop(optional_no_strip)]
    error: Option<String>,
) -> impl IntoView {
    let described = error.as_ref().map(|_| error_id(name));
    let invalid = error.as_ref().map(|_| "true");
    let class = if error.is_some() { "field check invalid" } else { "field check" };
    view! {
        <div class=class>
            <input type="checkbox" id=name name=name value="on" checked=checked aria-invalid=invalid aria-describedby=described />
            <label for=name>{label}</label>
            {error.map(|e| view! { <span class="field-error" id=error_id(name)>{label} " " {e} "."</span> })}
        </div>
    }
}

/// `Some` text as a form value ("" for none).
pub fn opt<T: ToString>(v: Option<T>) -> String {
    v.map(|v| v.to_string()).unwrap_or_default()
}
