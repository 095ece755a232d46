-- Every statement a payment, a poll or a job runs is served by an index (the query-plan test
-- checks it on both backends), so its cost doesn't grow with the database.

-- A purchase's lines, in order: read on every payment (totals, fulfilment, recharge).
CREATE INDEX purchase_lines_by_purchase ON purchase_lines (purchase_id, id);

-- The next due job, already in order: the lease takes the first entry instead of sorting
-- every due job to find it.
CREATE INDEX jobs_pending_by_due ON jobs (run_at, id) WHERE status = 'pending';
