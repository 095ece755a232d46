-- Operators disable accounts: a disabled user can't log in, their sessions end on their next
-- request and their API tokens are deleted when they are disabled.
ALTER TABLE users ADD COLUMN disabled_at TIMESTAMPTZ;
-- The users page lists accounts by email (the unique index serves it); a merchant's API users
-- are found by merchant, and a disabled user's tokens by user.
CREATE INDEX users_by_merchant ON users (merchant_id, email);
CREATE INDEX api_tokens_by_user ON api_tokens (user_id);
-- The merchants page lists merchants by name.
CREATE INDEX merchants_by_name ON merchants (name, id);
