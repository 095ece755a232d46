-- The admin's webhooks and jobs pages: the body each webhook attempt sent (so a failed
-- delivery can be read as the merchant got it), and the indexes their queries are served by.

-- The request body of each attempt, as signed and sent (NULL for attempts made before this).
ALTER TABLE webhook_attempts ADD COLUMN request_body TEXT;

-- A merchant's deliveries filtered by outcome, newest first (keyset on id).
CREATE INDEX webhook_events_by_merchant_outcome ON webhook_events (merchant_id, invocation, id);
-- An endpoint's recent failures and its last success.
CREATE INDEX webhook_attempts_by_merchant_outcome ON webhook_attempts (merchant_id, invocation, attempted_at);

-- The queue's counts by kind and state, with the oldest due time of each.
CREATE INDEX jobs_by_kind ON jobs (kind, status, run_at);
-- Failed jobs, most recently failed first (keyset on updated_at, id).
CREATE INDEX jobs_by_status_updated ON jobs (status, updated_at, id);
