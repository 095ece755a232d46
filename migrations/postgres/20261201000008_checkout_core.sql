-- One checkout core for every entry point. Kept in step with migrations/sqlite.

-- How the customer returns to the client after paying, with the outcome (a JSON rule: append
-- the outcome to a URL, replace a placeholder, or a success and a failure URL).
ALTER TABLE payments ADD COLUMN return_to TEXT;
UPDATE payments SET return_to = json_build_object('rule', 'append_outcome', 'url', return_url)::text
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
ALTER TABLE customer_notifications ADD COLUMN kind TEXT NOT NULL DEFAULT 'activation';
ALTER TABLE customer_notifications DROP CONSTRAINT customer_notifications_payment_id_channel_key;
ALTER TABLE customer_notifications ADD CONSTRAINT customer_notifications_one_per_kind UNIQUE (payment_id, channel, kind);
