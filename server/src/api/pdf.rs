//! Documents as HTTP answers (the API's and the customer pages' downloads alike).

use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use settle::document::{self, PdfFile};

/// A PDF answer, shown in the browser (`inline`) with a file name for saving; never cached by
/// shared caches, since it carries a customer's details.
pub fn answer(file: PdfFile) -> Response {
    // The core keeps file names to letters, digits, '-', '_' and '.', so the header is valid.
    let disposition = HeaderValue::from_str(&format!("inline; filename=\"{}\"", file.file_name))
        .unwrap_or_else(|_| HeaderValue::from_static("inline"));
    (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(document::PDF_CONTENT_TYPE)),
            (header::CONTENT_DISPOSITION, disposition),
            (header::CACHE_CONTROL, HeaderValue::from_static("private, no-store")),
        ],
        file.bytes,
    )
        .into_response()
}
