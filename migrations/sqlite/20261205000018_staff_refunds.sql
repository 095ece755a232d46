-- Staff refunds (the back office's refund and stray-charge pages).
-- The key of the form that asked for a refund: a second submit of the same form finds the
-- first refund instead of refunding again.
ALTER TABLE refunds ADD COLUMN request_key TEXT;
-- What the gateway shows refunded on the charge once this refund is done (minor units): how a
-- refund whose answer was lost is recognised at the gateway, partial refunds included.
ALTER TABLE refunds ADD COLUMN refunded_after_minor BIGINT;
CREATE UNIQUE INDEX refunds_by_request_key ON refunds (request_key) WHERE request_key IS NOT NULL;
-- One refund of a payment on its way at a time: each is decided knowing what the others gave
-- back, so together they never exceed what was captured.
CREATE UNIQUE INDEX refunds_one_pending_per_payment ON refunds (payment_id) WHERE status = 'pending';
