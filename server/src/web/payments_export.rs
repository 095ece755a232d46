//! `GET /admin/payments/export.csv`: the admin's filtered payment list as CSV, with the list
//! page's query keys. The body is streamed: the core reads the set in keyset batches and each
//! batch is sent as it is written, so a 100,000-row export holds one batch in memory.

use axum::Extension;
use axum::body::Body;
use axum::extract::{RawQuery, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use settle::access::Viewer;
use settle::payment::search::ListQuery;
use settle::payment::search::export::Export;
use settle_app::auth::CurrentUser;

use crate::error::ApiError;
use crate::state::AppState;

/// `GET /admin/payments/export.csv?q=…&state=…&sort=…`
pub async fn export_csv(
    State(state): State<AppState>,
    user: Option<Extension<CurrentUser>>,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    // The guard already requires an admin under /admin; this reads the user it loaded.
    let Some(Extension(CurrentUser(user))) = user else {
        return Err(ApiError::from(settle::Error::Forbidden));
    };
    if user.role != settle::account::Role::Admin {
        return Err(ApiError::from(settle::Error::Forbidden));
    }
    let viewer = Viewer::of_user(&user)?;
    let query = ListQuery::from_query(query.as_deref().unwrap_or(""))?;
    let export = Export::start(&viewer, query.filter, query.sort)?;
    let db = state.db.clone();
    let chunks = futures_util::stream::unfold(Some(export), move |export| {
        let db = db.clone();
        async move {
            let mut export = export?;
            match export.next_chunk(&db).await {
                Ok(Some(bytes)) => Some((Ok(bytes), Some(export))),
                Ok(None) => None,
                Err(e) => {
                    // Headers are gone by now: end the body early, so the download fails
                    // visibly instead of looking complete.
                    tracing::error!(error = %e, "payment export failed");
                    Some((Err(std::io::Error::other("export failed")), None))
                }
            }
        }
    });
    let name = format!("payments-{}.csv", chrono::Utc::now().format("%Y%m%d-%H%M%S"));
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
            (header::CONTENT_DISPOSITION, format!("attachment; filename=\"{name}\"")),
            (header::CACHE_CONTROL, "no-store".to_owned()),
        ],
        Body::from_stream(chunks),
    )
        .into_response())
}
