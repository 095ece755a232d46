-- Payments, their timeline, idempotency, gateway notifications, durable jobs (SQLite).
-- Kept in step with migrations/postgres.

-- Per-gateway connector settings: where the provider is, how long to wait, how to sign.
ALTER TABLE gateways ADD COLUMN base_url TEXT;          -- NULL: the built-in sandbox of this kind
ALTER TABLE gateways ADD COLUMN api_key TEXT;
ALTER TABLE gateways ADD COLUMN signing_secret TEXT;    -- HMAC key for notifications
ALTER TABLE gateways ADD COLUMN timeout_ms BIGINT NOT NULL DEFAULT 10000;
-- How long a payment may stay unsettled before the sweep asks the gateway about it.
ALTER TABLE gateways ADD COLUMN settle_after_seconds BIGINT NOT NULL DEFAULT 900;

-- Off-system channels for allocations (Cash, EFT, Yoco, Shop 2 Shop, Payment Link).
CREATE TABLE purchase_sources (
    id           TEXT PRIMARY KEY,
    name         TEXT NOT NULL,
    off_system   BOOLEAN NOT NULL,
    collector_id TEXT,
    created_at   TEXT NOT NULL
);

-- One attempt to collect a purchase through a gateway.
CREATE TABLE payments (
    id                TEXT PRIMARY KEY,
    reference         TEXT NOT NULL UNIQUE,   -- the payment reference/token clients see
    purchase_id       TEXT NOT NULL REFERENCES purchases (id),
    merchant_id       TEXT REFERENCES merchants (id),
    gateway_id        TEXT NOT NULL REFERENCES gateways (id),
    payment_method_id TEXT REFERENCES payment_methods (id),
    purchase_source_id TEXT REFERENCES purchase_sources (id),
    state             BIGINT NOT NULL,        -- PaymentState code
    currency          TEXT NOT NULL,
    amount_minor      BIGINT NOT NULL CHECK (amount_minor >= 0),
    gateway_reference TEXT,                   -- the gateway's id for this payment
    redirect_url      TEXT,                   -- hosted page / payment link the customer goes to
    return_url        TEXT,                   -- where the customer is sent back (registered origin)
    card_brand        TEXT,
    card_last4        TEXT,
    card_expiry       TEXT,
    three_ds          TEXT,                   -- JSON: creq, acsurl, threeDSSessionData while challenged
    failure_reason    TEXT,
    details           TEXT NOT NULL,          -- JSON: seed-specific extras (billing address, fields)
    created_at        TEXT NOT NULL,
    updated_at        TEXT NOT NULL,
    settle_by         TEXT                    -- when the sweep should ask the gateway if still open
);
CREATE INDEX payments_by_purchase ON payments (purchase_id);
CREATE INDEX payments_unsettled ON payments (settle_by) WHERE settle_by IS NOT NULL;
CREATE UNIQUE INDEX payments_by_gateway_reference ON payments (gateway_id, gateway_reference);
-- At most one payment per purchase under way at once: a retry replaces the open attempt
-- (cancelling it) instead of racing it.
CREATE UNIQUE INDEX payments_one_open_per_purchase ON payments (purchase_id) WHERE state IN (1, 2, 3, 4, 5);
-- A purchase is paid at most once: at most one payment per purchase in a state where money moved.
CREATE UNIQUE INDEX payments_one_success_per_purchase ON payments (purchase_id) WHERE state IN (6, 10, 11, 12);

-- Every transition, in the same transaction as the state change.
CREATE TABLE payment_events (
    id                INTEGER PRIMARY KEY AUTOINCREMENT,
    payment_id        TEXT NOT NULL REFERENCES payments (id),
    from_state        BIGINT,                 -- NULL for the creation event
    to_state          BIGINT,                 -- NULL for an event that changed nothing (a duplicate)
    cause             TEXT NOT NULL,          -- what happened, in words
    gateway_reference TEXT,
    payload           TEXT,                   -- gateway payload with secrets and card data removed
    created_at        TEXT NOT NULL
);
CREATE INDEX payment_events_by_payment ON payment_events (payment_id, id);

-- Gateway notifications, deduplicated by gateway + reference + event.
CREATE TABLE gateway_notifications (
    gateway_id        TEXT NOT NULL,
    gateway_reference TEXT NOT NULL,
    event_id          TEXT NOT NULL,
    payment_id        TEXT,
    outcome           TEXT NOT NULL,          -- applied, duplicate, late, unknown_payment
    received_at       TEXT NOT NULL,
    PRIMARY KEY (gateway_id, gateway_reference, event_id)
);

-- Stripe-style idempotency: the first response to a key is stored and replayed.
CREATE TABLE idempotency_keys (
    scope           TEXT NOT NULL,            -- who owns the key (merchant id, or user id)
    key             TEXT NOT NULL,
    request_hash    TEXT NOT NULL,            -- SHA-256 of method, path and body
    response_status BIGINT,                   -- NULL while the first request is still running
    response_body   TEXT,
    created_at      TEXT NOT NULL,
    locked_until    TEXT NOT NULL,            -- a crashed first request frees the key after this
    PRIMARY KEY (scope, key)
);
CREATE INDEX idempotency_keys_by_age ON idempotency_keys (created_at);

-- Durable background jobs, leased by one worker at a time.
CREATE TABLE jobs (
    id               TEXT PRIMARY KEY,
    kind             TEXT NOT NULL,
    payload          TEXT NOT NULL,           -- JSON
    dedupe_key       TEXT UNIQUE,             -- enqueueing the same work twice is a no-op
    status           TEXT NOT NULL CHECK (status IN ('pending', 'running', 'done', 'failed')),
    run_at           TEXT NOT NULL,
    attempts         BIGINT NOT NULL CHECK (attempts >= 0),
    max_attempts     BIGINT NOT NULL CHECK (max_attempts >= 1),
    last_error       TEXT,
    lease_owner      TEXT,
    lease_expires_at TEXT,
    created_at       TEXT NOT NULL,
    updated_at       TEXT NOT NULL
);
CREATE INDEX jobs_due ON jobs (status, run_at);
-- A dead worker's job is found by its expired lease.
CREATE INDEX jobs_expired_leases ON jobs (lease_expires_at) WHERE status = 'running';

-- Messages to customers (policy email and SMS, receipts), written by the notification job;
-- a mail/SMS relay sends from here. One row per message: the job that writes it is idempotent.
CREATE TABLE customer_notifications (
    id          TEXT PRIMARY KEY,
    customer_id TEXT NOT NULL REFERENCES customers (id),
    payment_id  TEXT REFERENCES payments (id),
    channel     TEXT NOT NULL CHECK (channel IN ('email', 'sms')),
    recipient   TEXT NOT NULL,
    subject     TEXT NOT NULL,
    body        TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    UNIQUE (payment_id, channel)
);
