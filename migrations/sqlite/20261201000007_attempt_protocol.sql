-- The attempt protocol (money safety): every attempt is recorded as possibly charged before a
-- request leaves for its gateway, reconciliation asks about it on a backing-off schedule, money
-- that lands on a losing attempt is refunded, and idempotency keys are tied to the attempt they
-- started. Kept in step between migrations/sqlite and migrations/postgres.

-- The caller's Idempotency-Key (hashed with its scope) of the request that started the attempt:
-- a retry of that request finds this attempt instead of starting another.
ALTER TABLE payments ADD COLUMN idempotency_key TEXT;
CREATE UNIQUE INDEX payments_by_idempotency_key ON payments (idempotency_key) WHERE idempotency_key IS NOT NULL;
-- How often reconciliation has asked the gateway about this attempt (its place in the schedule).
ALTER TABLE payments ADD COLUMN reconcile_attempts BIGINT NOT NULL DEFAULT 0;
-- Replaced by the global reconciliation schedule (setting reconcile_schedule_seconds).
ALTER TABLE gateways DROP COLUMN settle_after_seconds;

-- Money given back: refunds of a payment (admin refunds later; today the automatic refund of
-- money that reached an attempt which lost to another, e.g. one replaced while in flight).
CREATE TABLE refunds (
    id                TEXT PRIMARY KEY,
    payment_id        TEXT NOT NULL REFERENCES payments (id),
    currency          TEXT NOT NULL,
    amount_minor      BIGINT NOT NULL CHECK (amount_minor > 0),
    reason            TEXT NOT NULL,
    -- 'stray': money that reached an attempt which is not the purchase's successful payment.
    kind              TEXT NOT NULL CHECK (kind IN ('stray', 'requested')),
    status            TEXT NOT NULL CHECK (status IN ('pending', 'succeeded', 'failed')),
    gateway_reference TEXT,            -- the gateway's id for the refund, once it answered
    failure_reason    TEXT,
    created_at        TEXT NOT NULL,
    updated_at        TEXT NOT NULL
);
CREATE INDEX refunds_by_payment ON refunds (payment_id);
-- A stray charge is refunded once, however often it is reported.
CREATE UNIQUE INDEX refunds_one_stray_per_payment ON refunds (payment_id) WHERE kind = 'stray';

-- Keys the server derives secrets from (the idempotency fingerprint key), created on first use
-- and shared by every instance on this database.
CREATE TABLE server_secrets (
    name       TEXT PRIMARY KEY,
    value      TEXT NOT NULL,
    created_at TEXT NOT NULL
);

-- A stored answer is replayed with its headers.
ALTER TABLE idempotency_keys ADD COLUMN response_content_type TEXT;
ALTER TABLE idempotency_keys ADD COLUMN response_location TEXT;

-- The ledger check reads recent payments and open attempts (and the console will list them).
CREATE INDEX payments_by_created ON payments (created_at);
CREATE INDEX payments_open_by_age ON payments (updated_at) WHERE state IN (1, 2, 3, 5);

-- A public OAuth2 client (a browser or mobile app, like seed 001's `invoice-system-client`)
-- may use the password grant without its secret; every other client must authenticate.
ALTER TABLE merchants ADD COLUMN public_client BOOLEAN NOT NULL DEFAULT FALSE;
