//! Settle's integration tests: the real server, over HTTP, on a fresh database per test.
//! Every test runs on SQLite, and on PostgreSQL when SETTLE_TEST_POSTGRES_URL is set.

mod accounts;
mod foundation;
mod oauth;
mod support;

/// Registers `async fn name(app: TestApp) -> anyhow::Result<()>` tests by path.
macro_rules! tests {
    ($($path:path),+ $(,)?) => {
        &[$((stringify!($path), (|app| Box::pin($path(app))) as support::TestFn)),+]
    };
}

fn main() {
    support::run(tests![
        foundation::health_endpoints_report_process_and_database,
        foundation::migrations_create_every_table_once,
        foundation::demo_world_is_loaded_on_first_start,
        foundation::unknown_pages_are_404_pages,
        foundation::static_files_are_served,
        accounts::customer_logs_in_and_sees_their_services,
        accounts::wrong_password_is_refused_with_a_message,
        accounts::login_renews_the_session_id,
        accounts::failures_lock_the_account_then_the_address,
        accounts::logout_ends_the_session,
        accounts::pages_and_server_functions_enforce_roles,
        accounts::cross_site_form_posts_are_refused,
        oauth::password_grant_issues_a_bearer_token,
        oauth::client_credentials_grant_by_form_and_by_basic_auth,
        oauth::bad_grants_get_rfc6749_errors,
        oauth::bearer_tokens_are_checked,
    ]);
}
