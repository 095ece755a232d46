-- The admin's payment list (search, filters, keyset paging, totals, CSV export) and a payment's
-- timeline. Kept in step with migrations/sqlite: the same indexes on both backends.

-- Keyset order of the list: newest/oldest first by (created_at, id), largest/smallest by
-- (amount_minor, id); page N seeks straight to its cursor instead of counting past rows.
CREATE INDEX payment_search_by_created ON payments (created_at, id);
CREATE INDEX payment_search_by_amount ON payments (amount_minor, id);
-- The filters on the payment itself, each in the list's default order.
CREATE INDEX payment_search_by_state ON payments (state, created_at, id);
CREATE INDEX payment_search_by_gateway ON payments (gateway_id, created_at, id);
CREATE INDEX payment_search_by_currency ON payments (currency, created_at, id);
-- Search by the last four digits of the card.
CREATE INDEX payment_search_by_card_last4 ON payments (card_last4) WHERE card_last4 IS NOT NULL;
-- Search by the merchant's own reference for what was paid (without knowing the merchant).
CREATE INDEX payment_search_by_merchant_reference ON purchases (merchant_reference)
    WHERE merchant_reference IS NOT NULL;
-- The customer filter takes a customer's id, code or email.
CREATE INDEX payment_search_customers_by_code ON customers (code);
CREATE INDEX payment_search_customers_by_email ON customers (email);
-- The timeline: notifications received for a payment.
CREATE INDEX payment_search_notifications_by_payment ON gateway_notifications (payment_id, received_at);
