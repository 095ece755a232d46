-- Billing jobs: recurring collection day, auto-recharge, card update.

-- The period a purchase bills, when a job raised it: `YYYY-MM` for a recurring month,
-- `recharge:{purchase id}` for the auto-recharge after that purchase. One purchase per service
-- and period, so two runs (or two instances) can't raise the same month twice.
ALTER TABLE purchases ADD COLUMN billing_period TEXT;
CREATE UNIQUE INDEX purchases_one_per_billing_period ON purchases (service_id, billing_period)
    WHERE billing_period IS NOT NULL;

-- The collection day's selection: the products due that day, then their services in id order.
CREATE INDEX products_by_collection_day ON products (billing_kind, collection_day);
CREATE INDEX services_by_product ON services (product_id, id);

-- A card update started at the gateway for a saved card (the customer enters a new card on the
-- gateway's page); Settle applies the result the gateway reports, once.
CREATE TABLE card_updates (
    id                TEXT PRIMARY KEY,
    payment_method_id TEXT NOT NULL REFERENCES payment_methods (id),
    gateway_id        TEXT NOT NULL REFERENCES gateways (id),
    gateway_reference TEXT NOT NULL,
    status            TEXT NOT NULL CHECK (status IN ('pending', 'succeeded', 'failed')),
    created_at        TEXT NOT NULL,
    completed_at      TEXT
);
CREATE UNIQUE INDEX card_updates_by_gateway_reference ON card_updates (gateway_id, gateway_reference);
