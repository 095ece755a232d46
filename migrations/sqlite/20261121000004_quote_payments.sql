-- Seed 003 (SQLite): quotes prepared for card payment (the `/api/v1/payments/{uuid}/` object)
-- and the postal addresses it shows, each with a uuid that stays the same across polls and
-- retries. Kept in step with migrations/postgres.

-- A customer's postal address: a copy of a quote's policy address, or a billing address.
CREATE TABLE customer_addresses (
    id          TEXT PRIMARY KEY,             -- the uuid clients see
    customer_id TEXT NOT NULL REFERENCES customers (id),
    house       TEXT,
    street      TEXT,
    city        TEXT,
    county      TEXT,
    postcode    TEXT,
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL
);
CREATE INDEX customer_addresses_by_customer ON customer_addresses (customer_id);

-- One payment object per purchase: every take-payment attempt on the purchase shows through it,
-- so its uuid survives retries.
CREATE TABLE quote_payments (
    id                         TEXT PRIMARY KEY,  -- the payment uuid of seed 003
    purchase_id                TEXT NOT NULL UNIQUE REFERENCES purchases (id),
    service_id                 TEXT NOT NULL REFERENCES services (id),
    policy_address_id          TEXT REFERENCES customer_addresses (id),
    billing_use_policy_address BOOLEAN NOT NULL,
    billing_address_id         TEXT REFERENCES customer_addresses (id), -- NULL: the policy address
    created_at                 TEXT NOT NULL,
    updated_at                 TEXT NOT NULL
);
CREATE INDEX quote_payments_by_service ON quote_payments (service_id);
