-- Orders a merchant books for a customer and pays at once (SQLite). Kept in step with
-- migrations/postgres.

-- Payment methods get a stable integer number, for clients that identify them by integer
-- (`payment_method_id` of the orders API). The database assigns it on insert: SQLite has no
-- identity column to add to an existing table, so a trigger numbers each new row after the
-- highest number so far (writes are serialised, so two rows never get the same one; the unique
-- index would refuse it anyway). Rows already stored are numbered in insertion order.
ALTER TABLE payment_methods ADD COLUMN number INTEGER;
UPDATE payment_methods
   SET number = (SELECT COUNT(*) FROM payment_methods p WHERE p.rowid <= payment_methods.rowid);
CREATE UNIQUE INDEX payment_methods_by_number ON payment_methods (number);
CREATE TRIGGER payment_methods_numbered AFTER INSERT ON payment_methods
WHEN NEW.number IS NULL
BEGIN
    UPDATE payment_methods
       SET number = (SELECT COALESCE(MAX(number), 0) + 1 FROM payment_methods)
     WHERE id = NEW.id;
END;

-- The product a merchant's orders are booked against (a product whose price the merchant sets
-- per order). A merchant without one takes no orders.
ALTER TABLE merchants ADD COLUMN order_product_id TEXT REFERENCES products (id);

-- Totals of paid orders, by campaign or by customer, within a time span.
CREATE INDEX purchases_paid_by_campaign ON purchases (merchant_id, campaign, status, created_at);
CREATE INDEX purchases_paid_by_customer ON purchases (customer_id, status, created_at);
