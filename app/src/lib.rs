//! Settle's pages: Leptos components rendered on the server, and the server functions they post
//! to. Every page works as plain HTML forms and links (no hydration bundle is built).

pub mod auth;
pub mod components;
pub mod context;
pub mod error;
pub mod flash;
pub mod format;
pub mod layout;
pub mod links;
pub mod pages;

use leptos::prelude::*;
use leptos_meta::{MetaTags, Title, provide_meta_context};
use leptos_router::components::{Route, Router, Routes};
use leptos_router::{SsrMode, path};

use pages::account;

pub use context::PageContext;
pub use error::PageError;

/// The HTML document around every page. No `<HydrationScripts/>`: pages are server-rendered
/// only. The one script every page loads, `/forms.js`, only makes a pressed submit button say
/// what is happening; every page works without it.
pub fn shell(options: LeptosOptions) -> impl IntoView {
    let _ = options;
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8" />
                <meta name="viewport" content="width=device-width, initial-scale=1" />
                <link rel="stylesheet" href="/style/settle.css" />
                <link rel="icon" href="/favicon.svg" type="image/svg+xml" />
                <script src="/forms.js" defer></script>
                <MetaTags />
            </head>
            <body>
                <App />
            </body>
        </html>
    }
}

/// The page routes. Every route renders in `SsrMode::Async` so the whole page (with its data) is
/// sent at once: out-of-order streaming would need script to put the data in place.
#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    view! {
        <Title formatter=|title| format!("{title} · Settle") />
        <Router>
            <Routes fallback=pages::not_found::NotFound>
                <Route path=path!("/") view=pages::home::HomePage ssr=SsrMode::Async />
                <Route path=path!("/login") view=pages::login::LoginPage ssr=SsrMode::Async />
                <Route path=path!("/account") view=account::home::AccountPage ssr=SsrMode::Async />
                <Route path=path!("/account/checkout") view=account::checkout::CheckoutPage ssr=SsrMode::Async />
                <Route path=path!("/account/checkout/card") view=account::checkout::card::CardPaymentPage ssr=SsrMode::Async />
                <Route path=path!("/account/invoices/:invoice") view=account::invoices::InvoicePage ssr=SsrMode::Async />
                <Route path=path!("/account/payments/:reference") view=account::payments::status::PaymentStatusPage ssr=SsrMode::Async />
                <Route path=path!("/account/payments/:reference/challenge") view=account::payments::challenge::ChallengePage ssr=SsrMode::Async />
                <Route path=path!("/account/payments/:reference/challenge/frame") view=account::payments::challenge::ChallengeFramePage ssr=SsrMode::Async />
                <Route path=path!("/account/payments/:reference/challenge/complete") view=account::payments::challenge::ChallengeCompletePage ssr=SsrMode::Async />
                <Route path=path!("/account/services/:service/pay") view=account::services::pay::ServicePayPage ssr=SsrMode::Async />
                <Route path=path!("/account/services/:service/pay/:purchase/:outcome") view=account::services::result::ServicePayResultPage ssr=SsrMode::Async />
                <Route path=path!("/account/services/:service/buy") view=account::services::buy::ServiceBuyPage ssr=SsrMode::Async />
                <Route path=path!("/account/services/:service/buy/:purchase") view=account::services::pay::QuotePayPage ssr=SsrMode::Async />
                <Route path=path!("/account/payment-methods") view=account::payment_methods::PaymentMethodsPage ssr=SsrMode::Async />
                <Route path=path!("/account/payment-methods/:medium/update") view=account::payment_methods::update::CardUpdatePage ssr=SsrMode::Async />
                <Route path=path!("/admin") view=pages::admin::AdminPage ssr=SsrMode::Async />
                <Route path=path!("/admin/webhooks") view=pages::admin::webhooks::WebhooksPage ssr=SsrMode::Async />
                <Route path=path!("/admin/webhooks/:event") view=pages::admin::webhooks::delivery::WebhookDeliveryPage ssr=SsrMode::Async />
                <Route path=path!("/admin/jobs") view=pages::admin::jobs::JobsPage ssr=SsrMode::Async />
                <Route path=path!("/admin/payments") view=pages::admin::payments::PaymentsPage ssr=SsrMode::Async />
                <Route path=path!("/admin/payments/:reference") view=pages::admin::payments::detail::PaymentDetailPage ssr=SsrMode::Async />
                <Route path=path!("/operator") view=pages::operator::OperatorPage ssr=SsrMode::Async />
                <Route path=path!("/admin/payments/:reference/refund") view=pages::admin::payment_actions::refund::RefundPage ssr=SsrMode::Async />
                <Route path=path!("/admin/payments/:reference/refund-charge") view=pages::admin::payment_actions::stray::StrayRefundPage ssr=SsrMode::Async />
                <Route path=path!("/admin/payments/:reference/cancel") view=pages::admin::payment_actions::cancel::CancelPage ssr=SsrMode::Async />
                <Route path=path!("/admin/payments/:reference/reconcile") view=pages::admin::payment_actions::reconcile::ReconcilePage ssr=SsrMode::Async />
                <Route path=path!("/admin/audit") view=pages::admin::audit::AuditPage ssr=SsrMode::Async />
                <Route path=path!("/admin/ledger") view=pages::admin::ledger::LedgerPage ssr=SsrMode::Async />
                <Route path=path!("/operator/products") view=pages::operator::products::ProductsPage ssr=SsrMode::Async />
                <Route path=path!("/operator/products/:code") view=pages::operator::product_edit::ProductEditPage ssr=SsrMode::Async />
                <Route path=path!("/operator/gateways") view=pages::operator::gateways::GatewaysPage ssr=SsrMode::Async />
                <Route path=path!("/operator/gateways/:id") view=pages::operator::gateway_edit::GatewayEditPage ssr=SsrMode::Async />
                <Route path=path!("/operator/purchase-sources") view=pages::operator::purchase_sources::PurchaseSourcesPage ssr=SsrMode::Async />
                <Route path=path!("/operator/merchants") view=pages::operator::merchants::MerchantsPage ssr=SsrMode::Async />
                <Route path=path!("/operator/merchants/:id") view=pages::operator::merchants::detail::MerchantPage ssr=SsrMode::Async />
                <Route path=path!("/operator/merchants/:id/secret") view=pages::operator::merchants::secret::MerchantSecretPage ssr=SsrMode::Async />
                <Route path=path!("/operator/users") view=pages::operator::users::UsersPage ssr=SsrMode::Async />
            </Routes>
        </Router>
    }
}
