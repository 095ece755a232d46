//! `/docs/api`: the API reference. Swagger UI (vendored from `swagger-ui-dist`, see
//! `public/swagger-ui/VERSION`) renders `/openapi.json` from this server's own scripts, so the
//! page passes the content security policy; without JavaScript the page lists the endpoints by
//! tag, rendered here from the same document.

use axum::extract::State;
use axum::response::Html;
use html_escape::{encode_double_quoted_attribute as attr, encode_text as text};

use crate::api::openapi;
use crate::state::AppState;

/// Where the page is served.
pub const PATH: &str = "/docs/api";

/// `GET /docs/api`.
pub async fn page(State(state): State<AppState>) -> Html<String> {
    let doc = openapi::current(&state);
    let mut list = String::new();
    for tag in doc.tags.iter().flatten() {
        list.push_str(&format!("<h2>{}</h2>\n", text(&tag.name)));
        if let Some(description) = &tag.description {
            list.push_str(&format!("<p>{}</p>\n", text(description)));
        }
        list.push_str("<ul>\n");
        for (path, item) in &doc.paths.paths {
            for (method, operation) in openapi::operations_of(item) {
                if !operation.tags.iter().flatten().any(|t| *t == tag.name) {
                    continue;
                }
                let summary = operation.summary.as_deref().unwrap_or_default();
                list.push_str(&format!(
                    "<li><code>{} {}</code> {}</li>\n",
                    method.to_uppercase(),
                    text(path),
                    text(summary)
                ));
            }
        }
        list.push_str("</ul>\n");
    }
    Html(format!(
        r#"<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title} API reference</title>
<link rel="icon" href="/favicon.svg">
<link rel="stylesheet" href="/swagger-ui/swagger-ui.css">
</head>
<body>
<div id="swagger-ui"></div>
<noscript>
<main>
<h1>{title} API reference</h1>
<p>The OpenAPI 3.1 document: <a href="{json}">{json}</a>. Bearer tokens come from
<code>POST /oauth/token</code>.</p>
{list}</main>
</noscript>
<script src="/swagger-ui/swagger-ui-bundle.js"></script>
<script src="/api-docs.js" data-spec="{json_attr}"></script>
</body>
</html>
"#,
        title = text(&doc.info.title),
        json = openapi::PATH,
        json_attr = attr(openapi::PATH),
    ))
}
