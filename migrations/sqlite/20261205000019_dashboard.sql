-- The admin dashboard's queries, each served by an index.
-- Counts and volumes per day, state, gateway and currency over a period: covered by one index
-- on creation time (no table reads).
CREATE INDEX payments_dashboard ON payments (created_at, state, gateway_id, currency, amount_minor);
-- Stuck payments: not final (nor waiting on an invoice) and not moved for a while, oldest first.
CREATE INDEX payments_stuck_by_age ON payments (updated_at) WHERE state IN (1, 2, 3, 5, 6, 10);
-- Webhook delivery failure rate over a period.
CREATE INDEX webhook_attempts_by_time ON webhook_attempts (attempted_at);
