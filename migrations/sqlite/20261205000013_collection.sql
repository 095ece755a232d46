-- Seed 004's submit-for-collection. Kept in step with migrations/postgres.

-- The ISP billing entities ("collectors") and the merchant each belongs to: the gateway's
-- post-back names a collector, and the customer is sent on only to that merchant's origins.
CREATE TABLE collectors (
    id          TEXT PRIMARY KEY,
    merchant_id TEXT NOT NULL REFERENCES merchants (id),
    name        TEXT NOT NULL,
    created_at  TEXT NOT NULL
);
CREATE INDEX collectors_by_merchant ON collectors (merchant_id);

-- Hosted checkouts that keep the card they are paid with ("Add new payment method"): the row
-- is written with the attempt, and the card saved on its success fills `payment_method_id`
-- once (a compare-and-set on NULL), however often the success is reported.
CREATE TABLE payment_card_saves (
    payment_id        TEXT PRIMARY KEY REFERENCES payments (id),
    payment_method_id TEXT REFERENCES payment_methods (id)
);
