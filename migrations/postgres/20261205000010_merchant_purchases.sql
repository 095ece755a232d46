-- What is owed, told by merchants (Settle's merchant API). Kept in step with migrations/sqlite.

-- Customers belong to a merchant: the same code at two merchants is two customers. NULL: a
-- customer created on Settle's own (CLI). Existing customers belong to the merchant that sells
-- them a service.
ALTER TABLE customers ADD COLUMN merchant_id TEXT REFERENCES merchants (id);
UPDATE customers c SET merchant_id = (
    SELECT s.merchant_id FROM services s WHERE s.customer_id = c.id AND s.merchant_id IS NOT NULL
    ORDER BY s.created_at LIMIT 1);
ALTER TABLE customers DROP CONSTRAINT customers_code_key;
-- Codes are unique per merchant; also the keyset order of a merchant's customer list.
CREATE UNIQUE INDEX customers_by_merchant_code ON customers (merchant_id, code);

-- A product whose purchases the merchant prices (an invoice payment), rather than Settle.
ALTER TABLE products ADD COLUMN merchant_sets_amount BOOLEAN NOT NULL DEFAULT FALSE;

-- A merchant's service lists, by customer or all, in reference order.
CREATE INDEX services_by_customer_reference ON services (customer_id, reference);
CREATE INDEX services_by_merchant_reference ON services (merchant_id, reference);

-- Purchases as merchants know them: the public reference clients use (XYZ2024-ade08), the
-- merchant's own reference (unique per merchant: a repeated create answers the first purchase),
-- a campaign code, extras kept with it, and whose it is (for the lists).
ALTER TABLE purchases ADD COLUMN reference TEXT;
ALTER TABLE purchases ADD COLUMN merchant_id TEXT REFERENCES merchants (id);
ALTER TABLE purchases ADD COLUMN customer_id TEXT REFERENCES customers (id);
ALTER TABLE purchases ADD COLUMN merchant_reference TEXT;
ALTER TABLE purchases ADD COLUMN campaign TEXT;
ALTER TABLE purchases ADD COLUMN details TEXT NOT NULL DEFAULT '{}';
UPDATE purchases p SET reference = p.id, merchant_id = s.merchant_id, customer_id = s.customer_id
    FROM services s WHERE s.id = p.service_id;
CREATE UNIQUE INDEX purchases_by_reference ON purchases (reference);
CREATE UNIQUE INDEX purchases_by_merchant_reference ON purchases (merchant_id, merchant_reference);
-- The merchant's purchase list (ids are UUID v7, so id order is creation order), filtered by
-- status and/or customer.
CREATE INDEX purchases_by_merchant ON purchases (merchant_id, id);
CREATE INDEX purchases_by_merchant_status ON purchases (merchant_id, status, id);
CREATE INDEX purchases_by_customer ON purchases (customer_id, id);
CREATE INDEX purchases_by_customer_status ON purchases (customer_id, status, id);
