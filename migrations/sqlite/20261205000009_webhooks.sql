-- Merchant webhooks: one endpoint per merchant, the events it is told about, and a log row per
-- delivery attempt. Deliveries themselves are durable jobs (`jobs`, kind `webhook.deliver`).

-- Where a merchant's webhooks go and what signs them. `secret` is `whsec_<base64 key>`, kept in
-- clear because every delivery is signed with it; `previous_secret` still signs (as a second
-- `v1,` signature) until `previous_expires_at`, so a merchant can roll its verifier over.
CREATE TABLE webhook_endpoints (
    merchant_id          TEXT PRIMARY KEY REFERENCES merchants (id) ON DELETE CASCADE,
    url                  TEXT NOT NULL,
    secret               TEXT NOT NULL,
    previous_secret      TEXT,
    previous_expires_at  TEXT,
    event_types          TEXT NOT NULL, -- JSON array of type names; [] means every type
    status               TEXT NOT NULL CHECK (status IN ('healthy', 'failing')),
    consecutive_failures BIGINT NOT NULL DEFAULT 0,
    created_at           TEXT NOT NULL,
    updated_at           TEXT NOT NULL
);

-- One event a merchant is told about. `id` is the webhook body's Long `id` (never reused).
-- `invocation`/`invocation_status`/`sync_error`/`response_body` are the latest attempt's.
CREATE TABLE webhook_events (
    id                INTEGER PRIMARY KEY AUTOINCREMENT,
    merchant_id       TEXT NOT NULL REFERENCES merchants (id) ON DELETE CASCADE,
    kind              TEXT NOT NULL,
    subject           TEXT NOT NULL, -- a payment reference or a purchase id/reference
    created_at        TEXT NOT NULL,
    invocation        TEXT NOT NULL CHECK (invocation IN ('PENDING', 'SUCCESSFULL', 'FAILED')),
    invocation_status TEXT CHECK (invocation_status IN ('INVOCATION_SUCCESS', 'INVOCATION_FAIL')),
    sync_error        TEXT CHECK (sync_error IN ('SYNCH_UNAVAILABLE')),
    attempts          BIGINT NOT NULL DEFAULT 0,
    response_body     TEXT
);
CREATE INDEX webhook_events_by_merchant ON webhook_events (merchant_id, id);
CREATE INDEX webhook_events_by_subject ON webhook_events (subject);

-- Every delivery attempt: when, to where, what came back and how long it took.
CREATE TABLE webhook_attempts (
    id                TEXT PRIMARY KEY,
    event_id          BIGINT NOT NULL REFERENCES webhook_events (id) ON DELETE CASCADE,
    merchant_id       TEXT NOT NULL REFERENCES merchants (id) ON DELETE CASCADE,
    attempt           BIGINT NOT NULL CHECK (attempt >= 1),
    url               TEXT NOT NULL,
    attempted_at      TEXT NOT NULL,
    duration_ms       BIGINT NOT NULL,
    status_code       BIGINT,
    invocation        TEXT NOT NULL CHECK (invocation IN ('SUCCESSFULL', 'FAILED')),
    invocation_status TEXT CHECK (invocation_status IN ('INVOCATION_SUCCESS', 'INVOCATION_FAIL')),
    sync_error        TEXT CHECK (sync_error IN ('SYNCH_UNAVAILABLE')),
    pending_webhooks  BIGINT NOT NULL,
    response_body     TEXT,
    error             TEXT,
    UNIQUE (event_id, attempt)
);
CREATE INDEX webhook_attempts_by_merchant ON webhook_attempts (merchant_id, attempted_at);

-- The old per-merchant URL moves to an endpoint. Its secret was not a `whsec_` key, so the
-- endpoint gets a fresh one (48 hex digits are valid base64: a 36-byte key); the merchant
-- rotates it to see it. The old columns stay for the operator's form and are no longer read.
INSERT INTO webhook_endpoints (merchant_id, url, secret, event_types, status, created_at, updated_at)
SELECT id, webhook_url, 'whsec_' || lower(hex(randomblob(24))), '[]', 'healthy', created_at, created_at
FROM merchants WHERE webhook_url IS NOT NULL AND webhook_url <> '';

-- The old one-off `payment.succeeded` jobs are superseded by `webhook.deliver`.
UPDATE jobs SET status = 'failed', last_error = 'superseded by webhook.deliver', lease_expires_at = NULL
WHERE kind = 'notify.merchant_webhook' AND status IN ('pending', 'running');
