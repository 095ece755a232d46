-- Seed 001's invoice payments. Kept in step with migrations/sqlite.

-- A merchant's API login (role 'merchant_api'): a user who belongs to a merchant, not a customer.
-- Its password-grant token stands for the merchant; it never signs in to the pages.
ALTER TABLE users ADD COLUMN merchant_id TEXT REFERENCES merchants (id);
ALTER TABLE users DROP CONSTRAINT users_role_check;
ALTER TABLE users ADD CONSTRAINT users_role_check
    CHECK (role IN ('customer', 'admin', 'operator', 'merchant_api'));
ALTER TABLE users ADD CONSTRAINT users_merchant_check
    CHECK ((role = 'merchant_api') = (merchant_id IS NOT NULL));

-- The way back a merchant gave when it created the purchase (a ReturnTo rule as JSON): every
-- attempt to pay the purchase inherits it unless its client names another.
ALTER TABLE purchases ADD COLUMN return_to TEXT;
