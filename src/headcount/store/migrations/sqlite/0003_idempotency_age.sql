-- The sweeper drops idempotency records older than a day; without this index that
-- was a full scan inside the write transaction every second (found by bench/soak.py).
CREATE INDEX idempotency_by_age ON idempotency (created_at);
