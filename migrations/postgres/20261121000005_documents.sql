-- Tax invoices and receipts: what a seller's documents need beyond its name. Kept in step
-- between migrations/sqlite and migrations/postgres (same columns, both plain text).

-- The merchant's tax (VAT/GST) registration number, printed on its tax invoices.
ALTER TABLE merchants ADD COLUMN tax_number TEXT;
-- The merchant's postal address as it appears on documents, one line per line.
ALTER TABLE merchants ADD COLUMN address TEXT;
