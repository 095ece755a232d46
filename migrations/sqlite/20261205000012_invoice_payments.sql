-- Seed 001's invoice payments. Kept in step with migrations/postgres.

-- A merchant's API login (role 'merchant_api'): a user who belongs to a merchant, not a customer.
-- Its password-grant token stands for the merchant; it never signs in to the pages. SQLite
-- can't change a CHECK, so the table is rebuilt; the tokens that reference it are kept aside,
-- as dropping the old table deletes them (ON DELETE CASCADE).
CREATE TABLE users_new (
    id            TEXT PRIMARY KEY,
    email         TEXT NOT NULL UNIQUE, -- stored lowercase
    display_name  TEXT NOT NULL,
    role          TEXT NOT NULL CHECK (role IN ('customer', 'admin', 'operator', 'merchant_api')),
    password_hash TEXT NOT NULL,        -- argon2id PHC string
    customer_id   TEXT REFERENCES customers (id),
    created_at    TEXT NOT NULL,
    merchant_id   TEXT REFERENCES merchants (id),
    CHECK ((role = 'customer') = (customer_id IS NOT NULL)),
    CHECK ((role = 'merchant_api') = (merchant_id IS NOT NULL))
);
INSERT INTO users_new (id, email, display_name, role, password_hash, customer_id, created_at)
    SELECT id, email, display_name, role, password_hash, customer_id, created_at FROM users;
CREATE TEMP TABLE api_tokens_kept AS SELECT * FROM api_tokens;
DROP TABLE users;
ALTER TABLE users_new RENAME TO users;
INSERT INTO api_tokens SELECT * FROM api_tokens_kept;
DROP TABLE api_tokens_kept;

-- The way back a merchant gave when it created the purchase (a ReturnTo rule as JSON): every
-- attempt to pay the purchase inherits it unless its client names another.
ALTER TABLE purchases ADD COLUMN return_to TEXT;
