//! Settle's integration tests: the real server, over HTTP, on a fresh database per test.
//! Every test runs on SQLite, and on PostgreSQL when SETTLE_TEST_POSTGRES_URL is set.

mod access;
mod accounts;
mod admin_actions;
mod admin_dashboard;
mod admin_ops;
mod admin_payments;
mod api_client;
mod card_data;
mod checkout_pages;
mod crash;
mod documents;
mod edge;
mod forged_callbacks;
mod foundation;
mod gateway_keys;
mod merchant_api;
mod money_safety;
mod oauth;
mod openapi;
mod operations;
mod operator_accounts;
mod operator_config;
mod operator_gateways;
mod pay_now_pages;
mod payments;
mod query_plans;
mod roles;
mod routes;
mod sandbox_bank;
mod sandbox_card;
mod sandbox_hosted_checkout;
mod sandbox_lookups;
mod seed_000_checkout;
mod seed_001_invoices;
mod seed_002_orders;
mod seed_003_card_payments;
mod seed_004_billing_jobs;
mod seed_004_buy_now;
mod seed_004_collection;
mod seed_004_pay_now;
mod support;
mod webhooks;

/// Registers `async fn name(app: TestApp) -> anyhow::Result<()>` tests by path.
macro_rules! tests {
    ($($path:path),+ $(,)?) => {
        &[$((stringify!($path), (|app| Box::pin($path(app))) as support::TestFn)),+]
    };
}

/// Registers `async fn name(db: TestDatabase) -> anyhow::Result<()>` tests by path: they get a
/// fresh database and start their own servers (other settings, child processes).
macro_rules! database_tests {
    ($($path:path),+ $(,)?) => {
        &[$((stringify!($path), (|db| Box::pin($path(db))) as support::DatabaseTestFn)),+]
    };
}

fn main() {
    support::run(
        tests![
            foundation::health_endpoints_report_process_and_database,
            query_plans::hot_paths_are_served_by_indexes,
            operations::metrics_show_every_series_after_a_card_payment,
            admin_dashboard::dashboard_numbers_match_the_payments,
            admin_dashboard::webhook_failures_count_into_the_rate,
            admin_dashboard::dashboard_page_has_charts_and_tables,
            admin_dashboard::customers_are_refused_the_dashboard,
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
            merchant_api::a_merchant_bills_a_customer_and_the_customer_pays,
            merchant_api::a_merchant_reference_makes_one_purchase,
            merchant_api::an_idempotency_key_replays_the_first_answer,
            merchant_api::cancelling_an_unpaid_purchase_ends_what_is_owed,
            merchant_api::lists_come_in_pages,
            merchant_api::nobody_else_sees_a_merchants_billing,
            oauth::password_grant_issues_a_bearer_token,
            oauth::client_credentials_grant_by_form_and_by_basic_auth,
            oauth::bad_grants_get_rfc6749_errors,
            oauth::bearer_tokens_are_checked,
            documents::tax_invoice_and_receipt_are_pdfs_of_the_payment,
            documents::customers_download_their_own_documents,
            documents::receipt_is_refused_until_money_moves,
            documents::documents_are_for_the_payments_merchant_and_customer,
            payments::hosted_checkout_pays_and_activates_the_policy,
            checkout_pages::invoice_from_the_page_follows_the_product_rule,
            checkout_pages::nothing_owed_on_the_page_needs_no_payment,
            checkout_pages::the_bank_check_ends_on_settles_own_page,
            checkout_pages::the_core_refuses_a_way_back_to_an_unregistered_origin,
            payments::three_d_secure_challenge_completes_the_payment,
            payments::declined_card_then_successful_retry,
            payments::dropped_notification_is_settled_by_the_sweep,
            payments::duplicate_notification_is_recorded_and_ignored,
            payments::concurrent_requests_with_one_idempotency_key_charge_once,
            payments::card_errors_use_this_apis_field_names,
            payments::gateway_routing_tries_the_next_gateway_when_one_is_down,
            payments::gateway_errors_and_timeouts_end_in_terminal_states,
            payments::saved_card_pays_arrears_within_the_products_rules,
            sandbox_card::seed_003_test_cards_are_authorised_without_a_challenge,
            sandbox_card::challenge_card_authenticates_through_the_issuer_pages,
            sandbox_card::failed_authentication_declines_the_payment,
            sandbox_card::forged_or_misdirected_cres_is_refused,
            sandbox_card::declined_and_error_cards_map_to_failed_and_error,
            sandbox_card::timeout_card_times_out_then_reconciles_as_authorised,
            sandbox_card::unavailable_acquirer_does_nothing,
            sandbox_card::card_data_never_leaves_the_acquirer,
            sandbox_card::expired_and_invalid_cards_are_refused,
            sandbox_card::refunds_and_token_collections,
            sandbox_card::card_notifications_are_signed_and_checked,
            sandbox_bank::mandate_then_collection_settles_and_notifies,
            sandbox_bank::collection_with_an_iban_creates_the_mandate,
            sandbox_bank::bouncing_ibans_fail_with_the_reason,
            sandbox_bank::dropped_and_duplicated_notifications_follow_the_fault_plan,
            sandbox_bank::unavailable_or_hanging_bank,
            sandbox_bank::bank_notifications_with_forged_or_stale_signatures_are_rejected,
            sandbox_hosted_checkout::paying_on_the_hosted_page_notifies_and_settles,
            sandbox_hosted_checkout::declining_or_cancelling_fails_the_checkout,
            sandbox_hosted_checkout::notifications_with_bad_signatures_are_rejected,
            sandbox_hosted_checkout::an_unavailable_provider_did_nothing_and_a_hang_times_out,
            sandbox_hosted_checkout::a_dropped_notification_still_settles_by_status_query,
            sandbox_hosted_checkout::a_duplicated_notification_repeats_its_event_id,
            sandbox_hosted_checkout::saved_tokens_are_charged_and_unknown_ones_fail,
            sandbox_hosted_checkout::refunds_take_back_at_most_what_was_paid,
            sandbox_hosted_checkout::apple_pay_session_has_every_key_of_the_seed_example,
            sandbox_lookups::card_transactions_are_found_by_reference_and_listed_since,
            sandbox_lookups::hosted_checkouts_are_cancelled_found_and_listed,
            sandbox_lookups::bank_collections_are_found_by_reference_and_listed_since,
            seed_002_orders::an_order_by_an_existing_method_is_charged_once,
            seed_002_orders::a_direct_debit_order_settles_and_its_method_becomes_active,
            seed_002_orders::a_bounced_direct_debit_shows_on_the_order_and_the_method,
            seed_002_orders::an_external_card_order_comes_back_ok_or_ko,
            seed_002_orders::every_invalid_order_is_a_422_per_parameter,
            seed_002_orders::totals_by_campaign_person_and_dates,
            seed_002_orders::payment_methods_list_and_detail,
            seed_002_orders::paths_answer_with_and_without_the_slash_and_leave_seed_003_its_uuids,
            seed_003_card_payments::each_test_card_pays_with_the_policy_address_and_converts,
            seed_003_card_payments::different_billing_address_is_echoed_with_its_own_uuid,
            seed_003_card_payments::three_d_secure_challenge_ends_on_the_payment_complete_page,
            seed_003_card_payments::declined_card_then_retry_with_another_card,
            seed_003_card_payments::invalid_card_details_are_refused_and_nothing_is_stored,
            seed_003_card_payments::gateway_errors_are_terminal_and_lost_answers_are_settled_by_the_acquirer,
            seed_003_card_payments::bearer_token_and_a_known_uuid_are_required,
            seed_003_card_payments::idempotency_key_replays_take_payment,
            seed_004_pay_now::valid_mediums_end_with_add_new_payment_method,
            seed_004_pay_now::details_and_actions_of_a_service_in_arrears,
            seed_004_pay_now::active_medium_and_purchase_sources,
            seed_004_collection::the_arrears_purchase_is_paid_with_the_saved_card,
            seed_004_collection::a_declined_saved_card_is_a_problem_and_the_purchase_stays_owed,
            seed_004_collection::a_new_card_through_the_hosted_checkout_is_saved_once,
            seed_004_collection::a_declined_card_on_the_hosted_page_returns_0_and_saves_nothing,
            seed_004_collection::the_peach_redirect_sends_only_to_the_merchants_origins,
            seed_004_collection::the_payment_link_medium_answers_its_page,
            seed_004_collection::off_system_allocation_is_the_merchants_with_a_source,
            seed_004_collection::a_double_submit_charges_once,
            seed_004_collection::later_collection_keeps_a_card_as_the_active_medium,
            seed_004_collection::someone_elses_service_or_purchase_is_not_found,
            seed_004_buy_now::can_buy_info_offers_the_scheme_once_nothing_is_owed,
            seed_004_buy_now::three_seven_day_bundles_are_quoted_then_paid_for_21_days,
            seed_004_buy_now::months_ahead_are_priced_by_settle_and_wrong_figures_refused,
            seed_004_buy_now::buying_is_refused_when_not_allowed,
            seed_004_buy_now::scheme_config_and_default_provider,
            seed_004_billing_jobs::card_update_replaces_the_token_through_the_gateways_page,
            seed_004_billing_jobs::collection_day_raises_and_collects_the_month_once,
            seed_004_billing_jobs::a_declined_collection_leaves_the_service_in_arrears,
            seed_004_billing_jobs::concurrent_collection_runs_charge_once,
            seed_004_billing_jobs::auto_recharge_raises_the_next_bundle_and_collects_it_once,
            seed_004_billing_jobs::an_expired_card_asks_for_an_update_and_charges_nothing,
            pay_now_pages::pay_now_pages_render_for_the_owner,
            pay_now_pages::another_customer_finds_none_of_the_pay_now_pages,
            pay_now_pages::the_active_medium_form_works_without_javascript,
            pay_now_pages::the_arrears_are_paid_with_the_saved_card_from_the_page,
            pay_now_pages::a_new_card_on_the_providers_page_comes_back_to_the_result_page,
            pay_now_pages::a_7_day_bundle_is_bought_and_paid_from_the_pages,
            pay_now_pages::a_card_is_updated_on_the_providers_page_and_back,
            seed_000_checkout::gateways_are_listed_per_policy,
            seed_000_checkout::initiate_payment_required_redirects_to_the_hosted_page,
            seed_000_checkout::no_payment_required_when_nothing_is_owed,
            seed_000_checkout::invoiced_policies_follow_the_product_rule,
            seed_000_checkout::initiate_refuses_bad_input,
            seed_000_checkout::token_flow_pays_and_returns_to_the_client,
            seed_000_checkout::token_refuses_unregistered_return_urls,
            seed_000_checkout::return_url_given_to_token_carries_over_to_initiate,
            seed_000_checkout::without_a_return_url_the_merchants_completion_page_is_used,
            seed_000_checkout::declined_payment_returns_with_the_failure_then_a_retry_pays,
            seed_000_checkout::missed_return_is_settled_by_the_sweep,
            seed_000_checkout::forged_gateway_return_changes_nothing,
            seed_000_checkout::apple_pay_session_is_validated_for_an_initiated_payment,
            seed_000_checkout::complete_asks_the_gateway_when_the_return_is_late,
            seed_000_checkout::gateway_notification_racing_the_return_pays_once,
            seed_001_invoices::the_merchants_api_user_gets_a_token_and_bad_credentials_are_refused,
            seed_001_invoices::create_payment_with_every_field_then_each_invalid_one,
            seed_001_invoices::the_same_merchant_reference_answers_the_same_invoice,
            seed_001_invoices::the_customer_is_led_through_login_to_the_pay_page,
            seed_001_invoices::the_invoice_is_paid_by_card_once_and_the_customer_returns,
            seed_001_invoices::a_declined_card_stays_then_3d_secure_pays_and_returns,
            seed_001_invoices::the_invoice_is_paid_on_the_hosted_page_and_returns,
            seed_001_invoices::another_customer_can_neither_see_nor_pay_the_invoice,
            edge::login_follows_only_plain_local_paths,
            edge::json_errors_name_the_field_and_never_echo_the_value,
            edge::responses_carry_a_nonce_csp_and_no_store,
            edge::challenge_frames_allow_card_gateways_and_configured_origins,
            edge::unknown_api_paths_and_methods_are_problem_details,
            edge::server_functions_answer_malformed_arguments_with_4xx,
            edge::server_function_errors_carry_their_status,
            routes::every_route_has_a_guard_that_holds,
            routes::every_page_is_under_a_role_or_knowingly_public,
            routes::seed_002_paths_are_answered_by_seed_002_not_seed_003,
            openapi::the_document_lists_every_route_of_the_api,
            openapi::the_reference_page_renders_from_this_server,
            access::other_customers_and_merchants_find_nothing_of_a_customers,
            access::customers_pages_show_nothing_of_another_customers,
            access::every_bearer_route_is_probed,
            access::a_method_must_be_one_the_gateway_and_product_take,
            access::tokens_only_for_authenticated_clients_customers_and_merchants,
            access::idempotency_keys_are_scoped_to_the_customer,
            forged_callbacks::forged_notifications_change_nothing,
            forged_callbacks::a_forged_three_d_secure_result_leaves_the_payment_waiting,
            money_safety::concurrent_take_payments_charge_once,
            money_safety::concurrent_api_payments_charge_once,
            money_safety::concurrent_card_page_submits_charge_once,
            money_safety::concurrent_hosted_checkouts_leave_one_payable_page,
            money_safety::a_token_refused_while_a_payment_is_under_way_names_it,
            money_safety::a_replaced_hosted_checkout_is_cancelled_at_the_gateway,
            money_safety::money_that_reaches_a_lost_attempt_is_refunded,
            money_safety::a_notification_ahead_of_the_answer_is_matched_by_reference,
            money_safety::reconciliation_asks_soon_then_backs_off,
            money_safety::a_replaced_challenge_answered_late_charges_nothing,
            money_safety::a_retry_after_an_in_doubt_attempt_never_charges_again,
            webhooks::each_payment_moment_is_delivered_signed,
            webhooks::the_endpoint_is_managed_through_the_api_and_rotates_with_an_overlap,
            admin_actions::partial_refund_then_the_rest_and_never_more,
            admin_actions::a_double_submit_refunds_once,
            admin_actions::a_payment_never_captured_is_not_refunded_and_can_be_cancelled,
            admin_actions::the_audit_log_is_append_only,
            admin_actions::the_ledger_lists_a_stray_charge_and_refunds_it,
            admin_actions::customers_get_403_on_every_admin_action,
            admin_ops::the_job_queue_is_counted_and_a_failure_retried,
            admin_ops::other_roles_are_refused_the_ops_pages,
            roles::every_web_route_is_guarded_for_its_role,
            admin_payments::list_and_detail_are_for_admins_only,
            admin_payments::filters_and_search_keys_narrow_the_list,
            admin_payments::keyset_pages_cover_the_set_once_in_every_order,
            admin_payments::totals_count_and_sum_the_filtered_set_per_currency,
            admin_payments::detail_shows_the_timeline_without_card_numbers_or_secrets,
            admin_payments::csv_export_streams_a_large_filtered_set,
            operator_config::products_are_created_and_edited_with_a_message_per_field,
            operator_config::a_product_change_applies_to_new_purchases_only,
            operator_config::customers_get_403_on_every_operator_page_and_function,
            operator_gateways::gateways_are_configured_with_their_secrets_masked,
            operator_gateways::a_gateway_change_is_seen_by_every_instance_without_a_restart,
            operator_gateways::purchase_sources_are_added_and_switched_off,
            operator_gateways::a_gateways_own_schedule_drives_its_reconciliation,
            operator_gateways::a_card_gateways_new_origin_is_framed_without_a_restart,
            operator_accounts::a_new_merchants_secret_is_shown_once_and_gets_a_token,
            operator_accounts::rotated_secrets_retire_the_old_ones,
            operator_accounts::origins_return_urls_and_api_logins_are_validated_and_saved,
            operator_accounts::operators_open_accounts_of_each_role,
            operator_accounts::a_disabled_user_loses_session_and_tokens_at_once,
            operator_accounts::a_customer_gets_403_on_every_page_and_function_here,
        ],
        database_tests![
            gateway_keys::development_sandbox_key_is_refused_in_production,
            crash::server_restarts_after_kill_9_and_keeps_its_payments,
            crash::kill_9_during_a_burst_loses_and_doubles_no_charge,
            card_data::no_card_number_or_security_code_is_kept_anywhere,
            webhooks::a_500_then_no_response_then_200_follows_the_document,
            webhooks::a_failing_merchant_does_not_hold_up_another,
            webhooks::kill_9_in_the_middle_of_a_retry_schedule_loses_no_webhook,
            admin_ops::a_failing_delivery_is_shown_and_retried_now,
            operator_accounts::create_user_opens_the_first_operator_of_an_empty_production_database,
            operations::metrics_are_closed_in_production,
            operations::unknown_settings_stop_the_server_naming_them,
            operations::demo_data_reset_makes_a_fresh_demo,
        ],
    );
}
