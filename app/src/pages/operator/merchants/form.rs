//! A console form posted without script comes back, after a problem, with what was typed (never
//! a password) and a message per field: the server function keeps them in the session for the
//! next render of the page the form is on, which takes them once.

use serde::{Deserialize, Serialize};

use crate::PageError;
use crate::components::FieldErrors;

/// Session key of the kept form.
const KEPT_FORM_KEY: &str = "operator.kept_form";

/// What a failed post keeps for its page.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct KeptForm {
    /// Which form on which page (`merchant-create`, `origins:<merchant id>`).
    pub form: String,
    /// The values typed, by field name.
    pub values: Vec<(String, String)>,
    /// The problems, by field name.
    pub errors: FieldErrors,
}

impl KeptForm {
    /// The value typed into `field`, or empty.
    pub fn value(&self, field: &str) -> String {
        self.values.iter().find(|(f, _)| f == field).map(|(_, v)| v.clone()).unwrap_or_default()
    }

    /// The problem with `field`, if any.
    pub fn error(&self, field: &str) -> Option<String> {
        self.errors.get(field)
    }
}

/// The kept forms of a page: each form finds its own (or an empty one).
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct Kept(pub Option<KeptForm>);

impl Kept {
    /// The kept state of `form`, or an empty form.
    pub fn of(&self, form: &str) -> KeptForm {
        self.0.as_ref().filter(|k| k.form == form).cloned().unwrap_or_default()
    }
}

/// Keeps `form` for the next render (the server function then redirects back).
#[cfg(feature = "ssr")]
pub async fn keep(form: KeptForm) -> Result<(), PageError> {
    let session: tower_sessions::Session = leptos_axum::extract().await?;
    session.insert(KEPT_FORM_KEY, form).await.map_err(|e| {
        tracing::error!(error = %e, "keeping a console form failed");
        PageError::unavailable(crate::error::SESSIONS_UNAVAILABLE)
    })
}

/// Takes the kept form out of the session, once.
#[cfg(feature = "ssr")]
pub async fn take() -> Result<Kept, PageError> {
    let session: tower_sessions::Session = leptos_axum::extract().await?;
    // A session store that fails only costs the person retyping.
    Ok(Kept(session.remove::<KeptForm>(KEPT_FORM_KEY).await.ok().flatten()))
}

/// The core's problems as per-field messages, each core field renamed to this form's field
/// (`renames`: (core name, form name)); problems with other fields keep their names.
#[cfg(feature = "ssr")]
pub fn field_errors(errors: Vec<settle::FieldError>, renames: &[(&str, &str)]) -> FieldErrors {
    let mut merged: Vec<(String, String)> = Vec::new();
    for e in errors {
        let name = renames
            .iter()
            .find(|(core, _)| *core == e.field)
            .map_or(e.field.clone(), |(_, form)| (*form).to_owned());
        // Several problems with one field (two bad lines of a list) are told together.
        match merged.iter_mut().find(|(f, _)| *f == name) {
            Some((_, message)) => {
                message.push_str("; ");
                message.push_str(&e.message);
            }
            None => merged.push((name, e.message)),
        }
    }
    FieldErrors(merged)
}

/// "Please correct the detail marked below." or "… the N details …".
pub fn correct_message(count: usize) -> String {
    if count == 1 {
        "Please correct the detail marked below.".to_owned()
    } else {
        format!("Please correct the {count} details marked below.")
    }
}
