-- Billing schemes (seed 004's buy now): what a customer may buy of a product and at what price,
-- the scheme's settings, and each merchant's default provider per medium type. Kept in step
-- with migrations/sqlite.

-- A price option of a product ("7 Day bundle", "Monthly Recurring 20/10"); its id is the
-- document's product_price_id.
CREATE TABLE product_prices (
    id                  TEXT PRIMARY KEY,
    product_id          TEXT NOT NULL REFERENCES products (id) ON DELETE CASCADE,
    line_type           BIGINT NOT NULL CHECK (line_type IN (1, 2, 3)), -- 1 day, 2 monthly, 3 once-off
    description         TEXT NOT NULL,
    unit_price_minor    BIGINT NOT NULL CHECK (unit_price_minor >= 0), -- per quantity, excl. tax
    period_per_quantity BIGINT NOT NULL CHECK (period_per_quantity >= 0), -- days or months
    min_quantity        BIGINT NOT NULL CHECK (min_quantity >= 1),
    max_quantity        BIGINT NOT NULL CHECK (max_quantity >= min_quantity),
    position            BIGINT NOT NULL
);
CREATE INDEX product_prices_by_product ON product_prices (product_id, position);

-- A product's scheme settings; a product without a row has the defaults (BillingScheme).
CREATE TABLE billing_schemes (
    product_id                 TEXT PRIMARY KEY REFERENCES products (id) ON DELETE CASCADE,
    recharge_days_before       BIGINT NOT NULL CHECK (recharge_days_before >= 0),
    months_ahead_limit         BIGINT NOT NULL CHECK (months_ahead_limit BETWEEN 1 AND 120),
    accepts_immediate_payments BOOLEAN NOT NULL
);

-- The gateway a merchant's new mediums of a kind (card, bank account) are set up with.
CREATE TABLE merchant_default_gateways (
    merchant_id TEXT NOT NULL REFERENCES merchants (id) ON DELETE CASCADE,
    method_kind TEXT NOT NULL,
    gateway_id  TEXT NOT NULL REFERENCES gateways (id),
    PRIMARY KEY (merchant_id, method_kind)
);

-- An operator's products (GET /config lists them).
CREATE INDEX products_by_merchant ON products (merchant_id, code);
