//! The stylesheet from `style/` and the files from `public/`, compiled into the binary so the
//! server runs from any directory.

use axum::Router;
use axum::http::{HeaderValue, header};
use axum::response::IntoResponse;
use axum::routing::get;

/// Files served as they are: (URL path, content type, bytes).
const FILES: &[(&str, &str, &[u8])] = &[
    ("/style/settle.css", "text/css; charset=utf-8", include_bytes!("../../style/settle.css")),
    ("/favicon.svg", "image/svg+xml", include_bytes!("../../public/favicon.svg")),
    // Browsers ask for /favicon.ico on pages that name no icon (the sandbox's, a PDF).
    ("/favicon.ico", "image/svg+xml", include_bytes!("../../public/favicon.svg")),
    ("/3ds.js", "text/javascript", include_bytes!("../../public/3ds.js")),
    ("/forms.js", "text/javascript", include_bytes!("../../public/forms.js")),
    // The API reference page's renderer (swagger-ui-dist, see public/swagger-ui/VERSION).
    ("/api-docs.js", "text/javascript", include_bytes!("../../public/api-docs.js")),
    (
        "/swagger-ui/swagger-ui-bundle.js",
        "text/javascript",
        include_bytes!("../../public/swagger-ui/swagger-ui-bundle.js"),
    ),
    (
        "/swagger-ui/swagger-ui.css",
        "text/css; charset=utf-8",
        include_bytes!("../../public/swagger-ui/swagger-ui.css"),
    ),
];

/// Routes for the static files.
pub fn router<S: Clone + Send + Sync + 'static>() -> Router<S> {
    FILES.iter().fold(Router::new(), |router, (path, content_type, bytes)| {
        router.route(
            path,
            get(move || async move {
                (
                    [
                        (header::CONTENT_TYPE, HeaderValue::from_static(content_type)),
                        (header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=3600")),
                    ],
                    *bytes,
                )
                    .into_response()
            }),
        )
    })
}
