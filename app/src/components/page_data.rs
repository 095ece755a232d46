//! The block every data page repeats: load its data, then show the page, or the problem with
//! the status that fits (404 for someone else's policy, 500 for our faults).

use leptos::prelude::*;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::PageError;

/// Loads `load` before the page is sent (pages render in `SsrMode::Async`), then renders
/// `children` with the data, or an [`ErrorBox`] under `heading`.
///
/// ```ignore
/// <PageData heading="Checkout" load=load_checkout(policy) let:view>
///     <CheckoutSummary view />
/// </PageData>
/// ```
#[component]
pub fn PageData<T, Fut, Chil, V>(
    /// The page's heading, shown above the problem when loading fails.
    heading: &'static str,
    /// The data: usually a server function called directly (it runs on the server).
    load: Fut,
    /// The page, given the data.
    children: Chil,
) -> impl IntoView
where
    T: Clone + Send + Sync + Serialize + DeserializeOwned + 'static,
    Fut: Future<Output = Result<T, PageError>> + Send + 'static,
    Chil: FnOnce(T) -> V + Send + 'static,
    V: IntoView + 'static,
{
    let data = ArcOnceResource::<Result<T, PageError>>::new_blocking(load);
    view! {
        <Suspense fallback=|| view! { <p class="muted">"Loading…"</p> }>
            {Suspend::new(async move {
                match data.await {
                    Ok(value) => children(value).into_any(),
                    Err(error) => view! { <ErrorBox heading error /> }.into_any(),
                }
            })}
        </Suspense>
    }
}

/// A page's problem: the heading, the message, and a way back. Gives the response the error's
/// status (the typed status, never guessed from the words).
#[component]
pub fn ErrorBox(
    /// The page's heading.
    heading: &'static str,
    /// What went wrong.
    error: PageError,
) -> impl IntoView {
    if let Some(response) = use_context::<leptos_axum::ResponseOptions>() {
        response.set_status(error.status_code());
    }
    let home = crate::auth::current_user().map_or("/", |u| u.role.home_path());
    let back = if home == "/" { "Go to the start page" } else { "Back to your start page" };
    view! {
        <h1>{heading}</h1>
        <p class="flash error" role="alert">{error.message}</p>
        <p><a href=home>{back}</a></p>
    }
}
