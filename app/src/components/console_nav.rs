//! The back office's section links, under the header on every admin and operator page.

use leptos::prelude::*;
use settle::account::Role;

/// The admin console's sections: (path, name).
pub const ADMIN_SECTIONS: &[(&str, &str)] = &[
    ("/admin", "Dashboard"),
    ("/admin/payments", "Payments"),
    ("/admin/ledger", "Ledger"),
    ("/admin/webhooks", "Webhooks"),
    ("/admin/jobs", "Jobs"),
    ("/admin/audit", "Audit log"),
];

/// The operator console's sections: (path, name).
pub const OPERATOR_SECTIONS: &[(&str, &str)] = &[
    ("/operator", "Overview"),
    ("/operator/products", "Products"),
    ("/operator/gateways", "Gateways"),
    ("/operator/purchase-sources", "Purchase sources"),
    ("/operator/merchants", "Merchants"),
    ("/operator/users", "Users"),
];

/// The sections of `role`'s console, the one holding `here` marked current; nothing for other
/// roles.
#[component]
pub fn ConsoleNav(
    /// Whose console.
    role: Role,
    /// The path of the page shown.
    here: String,
) -> impl IntoView {
    let sections = match role {
        Role::Admin => ADMIN_SECTIONS,
        Role::Operator => OPERATOR_SECTIONS,
        Role::Customer | Role::MerchantApi => &[],
    };
    // The longest section path that `here` falls under is the current one.
    let current = sections
        .iter()
        .filter(|(path, _)| here == *path || here.starts_with(&format!("{path}/")))
        .max_by_key(|(path, _)| path.len())
        .map(|(path, _)| *path);
    (!sections.is_empty()).then(|| {
        view! {
            <nav class="console" aria-label="Console sections">
                {sections
                    .iter()
                    .map(|(path, name)| {
                        let mark = (current == Some(*path)).then_some("page");
                        view! { <a href=*path aria-current=mark>{*name}</a> }
                    })
                    .collect_view()}
            </nav>
        }
    })
}
