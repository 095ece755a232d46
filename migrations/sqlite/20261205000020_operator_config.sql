-- Operator configuration (issue 11): the configuration version every instance watches to
-- reload its gateways without a restart, the gateways' own settle-after and reconciliation
-- schedule, purchase sources that can be switched off, and the indexes the operator pages use.
-- Kept in step with the other backend's migration.

-- One row; bumped in the same transaction as every gateway or routing change, so an instance
-- that sees a new number reads a configuration that includes the change.
CREATE TABLE configuration_version (
    id      BIGINT PRIMARY KEY CHECK (id = 1),
    version BIGINT NOT NULL
);
INSERT INTO configuration_version (id, version) VALUES (1, 0);

-- NULL: the server's global setting applies.
ALTER TABLE gateways ADD COLUMN settle_after_seconds BIGINT CHECK (settle_after_seconds > 0);
-- Seconds between reconciliation asks, comma-separated ("5,30,120"); NULL: the global schedule.
ALTER TABLE gateways ADD COLUMN reconcile_schedule TEXT;

-- A disabled source is offered to nobody; payments allocated through it keep it.
ALTER TABLE purchase_sources ADD COLUMN enabled BOOLEAN NOT NULL DEFAULT TRUE;

-- The operator's product list (by name) and a gateway's products (its page lists them).
CREATE INDEX products_by_name ON products (name);
CREATE INDEX product_gateways_by_gateway ON product_gateways (gateway_id, product_id);
CREATE INDEX purchase_sources_by_name ON purchase_sources (name);
