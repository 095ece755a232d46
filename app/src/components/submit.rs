//! The submit button of a form that starts something.

use leptos::prelude::*;

/// A submit button. `busy` is what it says once pressed ("Paying…"): `/forms.js` disables the
/// button and shows it, so nobody presses twice while the server works. Without script the
/// button stays as it is and the form still posts.
#[component]
pub fn SubmitButton(
    /// What pressing it does ("Pay GBP 51.34").
    #[prop(into)]
    label: String,
    /// What it says while the form is being sent ("Paying…").
    busy: &'static str,
    /// Extra CSS classes (`secondary`, `link`).
    #[prop(optional)]
    class: Option<&'static str>,
) -> impl IntoView {
    view! { <button type="submit" class=class data-busy=busy>{label}</button> }
}
