-- One checkout core for every entry point. Kept in step with migrations/postgres.

-- How the customer returns to the client after paying, with the outcome (a JSON rule: append
-- the outcome to a URL, replace a placeholder, or a success and a failure URL).
ALTER TABLE payments ADD COLUMN return_to TEXT;
UPDATE payments SET return_to = json_object('rule', 'append_outcome', 'url', return_url)
    WHERE return_url IS NOT NULL;
ALTER TABLE payments DROP COLUMN return_url;

-- Where a payment was started: 'api' (a client's) or 'pages' (Settle's customer pages, whose
-- bank check ends on a page of Settle's own).
ALTER TABLE payments ADD COLUMN channel TEXT NOT NULL DEFAULT 'api' CHECK (channel IN ('api', 'pages'));

-- The address a card payment was billed to (JSON), whichever entry point took the card.
ALTER TABLE payments ADD COLUMN billing_address TEXT;

-- A merchant's completion page per gateway ('*': every gateway), where customers go back to when
-- the client named no URL (seed 000's per-deployment, per-payment-processor page).
CREATE TABLE merchant_completion_pages (
    merchant_id TEXT NOT NULL REFERENCES merchants (id) ON DELETE CASCADE,
    gateway_id  TEXT NOT NULL,
    url         TEXT NOT NULL,
    PRIMARY KEY (merchant_id, gateway_id)
);

-- How a customer pays the merchant's invoices (bank transfer details), printed on its tax
-- invoices and shown with an invoiced payment.
ALTER TABLE merchants ADD COLUMN payment_instructions TEXT;

-- A payment can cause more than one message per channel (the invoice, then the paid policy).
CREATE TABLE customer_notifications_new (
    id          TEXT PRIMARY KEY,
    customer_id TEXT NOT NULL REFERENCES customers (id),
    payment_id  TEXT REFERENCES payments (id),
    channel     TEXT NOT NULL CHECK (channel IN ('email', 'sms')),
    recipient   TEXT NOT NULL,
    subject     TEXT NOT NULL,
    body        TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    kind        TEXT NOT NULL DEFAULT 'activation',
    UNIQUE (payment_id, channel, kind)
);
INSERT INTO customer_notifications_new (id, customer_id, payment_id, channel, recipient, subject, body, created_at)
    SELECT id, customer_id, payment_id, channel, recipient, subject, body, created_at FROM customer_notifications;
DROP TABLE customer_notifications;
ALTER TABLE customer_notifications_new RENAME TO customer_notifications;
