-- The sweeper drops idempotency records older than a day; index it (found by bench/soak.py).
CREATE INDEX idempotency_by_age ON idempotency (created_at);
