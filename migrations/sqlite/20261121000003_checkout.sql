-- Seed 000's checkout (SQLite). Kept in step with migrations/postgres.

-- What an invoiced policy does before its invoice is paid: 'on_payment' waits (the policy stays
-- as it is until the invoice's payment succeeds), 'on_invoice' activates it as soon as the
-- invoice is issued (cover now, bill later).
ALTER TABLE products ADD COLUMN invoice_activation TEXT NOT NULL DEFAULT 'on_payment'
    CHECK (invoice_activation IN ('on_payment', 'on_invoice'));
