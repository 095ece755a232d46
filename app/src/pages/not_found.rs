//! The page for paths nothing else answers.

use leptos::prelude::*;

use crate::layout::Layout;

/// 404: explains and links home.
#[component]
pub fn NotFound() -> impl IntoView {
    if let Some(response) = use_context::<leptos_axum::ResponseOptions>() {
        response.set_status(http::StatusCode::NOT_FOUND);
    }
    view! {
        <Layout title="Not found".into()>
            <h1>"Page not found"</h1>
            <p>"There is nothing at this address. " <a href="/">"Go to the start page"</a> "."</p>
        </Layout>
    }
}
