//! Answers for `/api` requests no route takes: problem details, as every API error is, rather
//! than the HTML pages a browser gets elsewhere.

use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Response};

use crate::error::ApiError;

/// Whether `path` is under `/api` (the REST APIs and the login server functions).
pub fn is_api_path(path: &str) -> bool {
    path == "/api" || path.starts_with("/api/")
}

/// 404 for an unknown API path.
pub fn not_found() -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, "There is no API at this path.")
}

/// 405 for a known path with the wrong method: problem details under `/api`, an empty 405
/// elsewhere (axum adds the `Allow` header either way).
pub async fn method_not_allowed(uri: Uri) -> Response {
    if is_api_path(uri.path()) {
        ApiError::new(StatusCode::METHOD_NOT_ALLOWED, "This path does not take that method.")
            .into_response()
    } else {
        StatusCode::METHOD_NOT_ALLOWED.into_response()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_paths_are_whole_segments() {
        assert!(is_api_path("/api") && is_api_path("/api/nope") && is_api_path("/api/v1/x"));
        assert!(!is_api_path("/apis") && !is_api_path("/account/api/card") && !is_api_path("/"));
    }
}
