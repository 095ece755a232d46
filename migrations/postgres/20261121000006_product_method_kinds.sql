-- The kinds of payment method (medium) a product accepts, comma-separated MethodKind names.
ALTER TABLE products ADD COLUMN allowed_method_kinds TEXT NOT NULL DEFAULT 'card,bank_account,payment_link,off_system,provider_selected';
