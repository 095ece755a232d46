//! A labelled form field with its hint and its error, wired for assistive technology: the
//! hint and the error are linked with `aria-describedby`, an invalid field says so with
//! `aria-invalid`, and the first invalid field of a form gets the focus (`autofocus`).

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

/// The problems of a posted form, per field, kept for the page it goes back to.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldErrors(pub Vec<(String, String)>);

impl FieldErrors {
    /// The problem with `field`, if any.
    pub fn get(&self, field: &str) -> Option<String> {
        self.0.iter().find(|(f, _)| f == field).map(|(_, m)| m.clone())
    }

    /// Of `fields` (in the order the page shows them), the first that has a problem: the one
    /// to focus.
    pub fn first_of(&self, fields: &[&'static str]) -> Option<&'static str> {
        fields.iter().copied().find(|f| self.get(f).is_some())
    }

    /// How many problems there are.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// The id of a field's error message, for `aria-describedby`.
pub fn error_id(name: &str) -> String {
    format!("{name}-error")
}

/// One labelled text input (or `email`, `password`) with its hint and error.
#[component]
pub fn TextField(
    /// The visible label.
    label: &'static str,
    /// The input's name (and id).
    name: &'static str,
    /// The value to show again (never a card number, security code or password).
    #[prop(optional, into)]
    value: String,
    /// The problem with it, if any ("is not a valid card number"): shown after the label.
    #[prop(optional_no_strip)]
    error: Option<String>,
    /// Autocomplete token.
    autocomplete: &'static str,
    /// `text` unless given (`email`, `password`).
    #[prop(optional)]
    kind: Option<&'static str>,
    /// Whether the browser should insist on a value.
    #[prop(optional)]
    required: bool,
    /// A hint shown under the label.
    #[prop(optional)]
    hint: Option<&'static str>,
    /// `numeric` for digit-only fields.
    #[prop(optional)]
    inputmode: Option<&'static str>,
    /// Longest input accepted.
    #[prop(optional)]
    maxlength: Option<u32>,
    /// Whether this field gets the focus when the page opens (the first invalid field).
    #[prop(optional)]
    autofocus: bool,
) -> impl IntoView {
    let hint_id = format!("{name}-hint");
    let error_id = error_id(name);
    let described: Vec<&str> =
        [hint.map(|_| hint_id.as_str()), error.as_ref().map(|_| error_id.as_str())]
            .into_iter()
            .flatten()
            .collect();
    let described = (!described.is_empty()).then(|| described.join(" "));
    let invalid = error.as_ref().map(|_| "true");
    let class = if error.is_some() { "field invalid" } else { "field" };
    view! {
        <div class=class>
            <label for=name>{label}</label>
            {hint.map(|h| view! { <small class="hint" id=hint_id.clone()>{h}</small> })}
            <input
                type=kind.unwrap_or("text")
                id=name
                name=name
                value=value
                autocomplete=autocomplete
                required=required
                inputmode=inputmode
                maxlength=maxlength
                autofocus=autofocus
                aria-invalid=invalid
                aria-describedby=described
            />
            {error.map(|e| view! { <span class="field-error" id=error_id.clone()>{label} " " {e} "."</span> })}
        </div>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_problem_in_page_order_gets_the_focus() {
        let errors = FieldErrors(vec![
            ("cv2".into(), "must be 3 digits".into()),
            ("card_number".into(), "is not valid".into()),
        ]);
        assert_eq!(errors.first_of(&["card_holder", "card_number", "cv2"]), Some("card_number"));
        assert_eq!(errors.get("cv2").as_deref(), Some("must be 3 digits"));
        assert_eq!(errors.get("house"), None);
        assert_eq!(FieldErrors::default().first_of(&["cv2"]), None);
        assert_eq!(errors.len(), 2);
    }
}
