//! The sandbox's HTML pages (the hosted checkout's, the card issuer's ACS): one page frame in
//! Settle's stylesheet, and the escaping of whatever goes into it.

use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Response};

/// Escapes text for HTML content and double-quoted attribute values.
pub(super) fn escape(text: &str) -> String {
    html_escape::encode_double_quoted_attribute(text).into_owned()
}

/// A page titled `title · site` with `content` (already HTML) in a narrow card. No script and
/// no inline style: the content security policy forbids both, and no sandbox page needs them.
/// Never cached: each page answers one customer's step, and a cached copy would replay it.
pub(super) fn page(status: StatusCode, site: &str, title: &str, content: &str) -> Response {
    let body = format!(
        r#"<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex">
<title>{title} · {site}</title>
<link rel="stylesheet" href="/style/settle.css">
</head>
<body>
<main>
<div class="card narrow">
{content}
</div>
</main>
</body>
</html>
"#,
        title = escape(title),
        site = escape(site),
    );
    (status, [(header::CACHE_CONTROL, "no-store")], Html(body)).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn html_is_escaped() {
        assert_eq!(
            escape(r#"<a href="x">'&'</a>"#),
            "&lt;a href=&quot;x&quot;&gt;'&amp;'&lt;/a&gt;"
        );
    }
}
