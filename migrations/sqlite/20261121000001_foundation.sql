-- Settle foundation schema (SQLite). Kept in step with migrations/postgres: same tables, same
-- columns; only types differ (TEXT times here, TIMESTAMPTZ there).
-- Ids are UUID v7 strings. Money is integer minor units next to a currency. Times are UTC.

CREATE TABLE customers (
    id          TEXT PRIMARY KEY,
    -- The customer's code as merchants know it (customerCode, person_id, userId).
    code        TEXT NOT NULL UNIQUE,
    name        TEXT NOT NULL,
    email       TEXT,
    phone       TEXT,
    created_at  TEXT NOT NULL
);

CREATE TABLE users (
    id            TEXT PRIMARY KEY,
    email         TEXT NOT NULL UNIQUE, -- stored lowercase
    display_name  TEXT NOT NULL,
    role          TEXT NOT NULL CHECK (role IN ('customer', 'admin', 'operator')),
    password_hash TEXT NOT NULL,        -- argon2id PHC string
    customer_id   TEXT REFERENCES customers (id),
    created_at    TEXT NOT NULL,
    CHECK ((role = 'customer') = (customer_id IS NOT NULL))
);

CREATE TABLE login_attempts (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    email        TEXT NOT NULL,
    client_ip    TEXT NOT NULL,
    succeeded    BOOLEAN NOT NULL,
    attempted_at TEXT NOT NULL
);
CREATE INDEX login_attempts_by_email ON login_attempts (email, attempted_at);
CREATE INDEX login_attempts_by_ip ON login_attempts (client_ip, attempted_at);

CREATE TABLE merchants (
    id                 TEXT PRIMARY KEY,
    name               TEXT NOT NULL,
    client_id          TEXT NOT NULL UNIQUE,
    client_secret_hash TEXT NOT NULL, -- SHA-256 hex of a high-entropy secret
    webhook_url        TEXT,
    webhook_secret     TEXT,          -- needed in clear to sign outgoing webhooks
    created_at         TEXT NOT NULL
);

-- Where Settle may send a customer back to (scheme://host[:port]).
CREATE TABLE merchant_return_origins (
    merchant_id TEXT NOT NULL REFERENCES merchants (id) ON DELETE CASCADE,
    origin      TEXT NOT NULL,
    PRIMARY KEY (merchant_id, origin)
);

CREATE TABLE api_tokens (
    token_hash  TEXT PRIMARY KEY, -- SHA-256 hex of the opaque bearer token
    merchant_id TEXT NOT NULL REFERENCES merchants (id) ON DELETE CASCADE,
    user_id     TEXT REFERENCES users (id) ON DELETE CASCADE,
    grant_type  TEXT NOT NULL CHECK (grant_type IN ('password', 'client_credentials')),
    expires_at  TEXT NOT NULL,
    created_at  TEXT NOT NULL
);
CREATE INDEX api_tokens_by_expiry ON api_tokens (expires_at);

-- A gateway is a configured connector instance; its id is the key clients submit.
CREATE TABLE gateways (
    id         TEXT PRIMARY KEY, -- 'payfort-aed', 'invoice', ...
    name       TEXT NOT NULL,
    provider   TEXT NOT NULL,
    kind       TEXT NOT NULL CHECK (kind IN ('hosted_checkout', 'card_3ds', 'direct_debit', 'invoice', 'payment_link', 'off_system', 'apple_pay')),
    currency   TEXT NOT NULL,
    enabled    BOOLEAN NOT NULL,
    created_at TEXT NOT NULL
);

-- A product and its billing scheme (what is sold, how it is billed, how it is taxed).
CREATE TABLE products (
    id               TEXT PRIMARY KEY,
    code             TEXT NOT NULL UNIQUE,
    name             TEXT NOT NULL,
    merchant_id      TEXT REFERENCES merchants (id),
    service_kind     TEXT NOT NULL CHECK (service_kind IN ('policy', 'isp')),
    billing_kind     TEXT NOT NULL CHECK (billing_kind IN ('recurring_monthly', 'day_bundle', 'once_off')),
    currency         TEXT NOT NULL,
    unit_price_minor BIGINT NOT NULL CHECK (unit_price_minor >= 0), -- per day / month / once, excl. tax
    tax_rate_bp      BIGINT NOT NULL CHECK (tax_rate_bp BETWEEN 0 AND 10000), -- 1500 = 15 %
    collection_day   BIGINT CHECK (collection_day BETWEEN 1 AND 31),
    auto_recharge    BOOLEAN NOT NULL,
    created_at       TEXT NOT NULL
);

-- The gateways a product may be paid through, in the order they are tried.
CREATE TABLE product_gateways (
    product_id TEXT NOT NULL REFERENCES products (id) ON DELETE CASCADE,
    gateway_id TEXT NOT NULL REFERENCES gateways (id),
    position   BIGINT NOT NULL,
    PRIMARY KEY (product_id, gateway_id)
);

CREATE TABLE payment_methods (
    id                  TEXT PRIMARY KEY,
    customer_id         TEXT REFERENCES customers (id), -- NULL: the global "add new payment method"
    kind                TEXT NOT NULL CHECK (kind IN ('card', 'bank_account', 'payment_link', 'off_system', 'provider_selected')),
    status              TEXT NOT NULL CHECK (status IN ('incomplete', 'valid', 'invalid', 'expired')),
    label               TEXT NOT NULL,
    card_brand          TEXT,
    card_last4          TEXT,
    card_expiry         TEXT, -- MMYY
    bank_account_masked TEXT,
    gateway_id          TEXT REFERENCES gateways (id),
    gateway_token       TEXT, -- the gateway's token for the card or mandate, never a card number
    verified            BOOLEAN NOT NULL,
    created_at          TEXT NOT NULL
);
CREATE INDEX payment_methods_by_customer ON payment_methods (customer_id);

-- What payments activate or extend: an insurance policy or an ISP service.
CREATE TABLE services (
    id                       TEXT PRIMARY KEY,
    reference                TEXT NOT NULL UNIQUE, -- policy number or service id as clients know it
    kind                     TEXT NOT NULL CHECK (kind IN ('policy', 'isp')),
    customer_id              TEXT NOT NULL REFERENCES customers (id),
    product_id               TEXT NOT NULL REFERENCES products (id),
    merchant_id              TEXT REFERENCES merchants (id),
    status                   TEXT NOT NULL,
    billing_status           TEXT NOT NULL CHECK (billing_status IN ('PaidUp', 'InArrears', 'Unbilled')),
    active_payment_method_id TEXT REFERENCES payment_methods (id),
    period_start             TEXT,
    period_end               TEXT,
    details                  TEXT NOT NULL, -- JSON: quote, vehicle, addresses
    created_at               TEXT NOT NULL,
    updated_at               TEXT NOT NULL
);
CREATE INDEX services_by_customer ON services (customer_id);

-- An amount owed, with lines and tax.
CREATE TABLE purchases (
    id                TEXT PRIMARY KEY,
    service_id        TEXT NOT NULL REFERENCES services (id),
    status            TEXT NOT NULL CHECK (status IN ('quote', 'open', 'paid', 'cancelled')),
    currency          TEXT NOT NULL,
    amount_excl_minor BIGINT NOT NULL,
    tax_minor         BIGINT NOT NULL,
    amount_minor      BIGINT NOT NULL,
    purchase_date     TEXT NOT NULL,
    paid_at           TEXT,
    created_at        TEXT NOT NULL,
    CHECK (amount_minor = amount_excl_minor + tax_minor)
);
CREATE INDEX purchases_by_service ON purchases (service_id, status);

CREATE TABLE purchase_lines (
    id                  TEXT PRIMARY KEY,
    purchase_id         TEXT NOT NULL REFERENCES purchases (id) ON DELETE CASCADE,
    line_type           BIGINT NOT NULL CHECK (line_type IN (1, 2, 3)), -- 1 day, 2 monthly, 3 once-off
    description         TEXT NOT NULL,
    quantity            BIGINT NOT NULL CHECK (quantity > 0),
    unit_price_minor    BIGINT NOT NULL,
    period_per_quantity BIGINT NOT NULL,
    tax_rate_bp         BIGINT NOT NULL,
    amount_excl_minor   BIGINT NOT NULL,
    tax_minor           BIGINT NOT NULL,
    amount_minor        BIGINT NOT NULL,
    CHECK (amount_minor = amount_excl_minor + tax_minor)
);
