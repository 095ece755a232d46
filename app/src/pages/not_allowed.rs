//! The page for a signed-in person who opens another role's page (403). The server's guard
//! refuses the request before any route runs, so it renders this page itself with
//! [`forbidden_document`]: the same site header as every other page.

use leptos::prelude::*;
use settle::account::User;

use crate::layout::SiteHeader;

/// The whole 403 HTML document for `user`.
pub fn forbidden_document(user: &User) -> String {
    let owner = Owner::new();
    let user = user.clone();
    let html = owner.with(move || {
        let home = user.role.home_path();
        let role = user.role.to_string();
        view! {
            <html lang="en">
                <head>
                    <meta charset="utf-8" />
                    <meta name="viewport" content="width=device-width, initial-scale=1" />
                    <title>"Not allowed · Settle"</title>
                    <link rel="stylesheet" href="/style/settle.css" />
                    <link rel="icon" href="/favicon.svg" type="image/svg+xml" />
                    <script src="/forms.js" defer></script>
                </head>
                <body>
                    <SiteHeader user=Some(user) />
                    <main>
                        <h1>"Not allowed"</h1>
                        <p>
                            "Your account (" {role} ") can't open this page. "
                            <a href=home>"Go to your start page"</a> "."
                        </p>
                    </main>
                </body>
            </html>
        }
        .to_html()
    });
    format!("<!DOCTYPE html>{html}")
}
