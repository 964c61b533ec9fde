-- Facts about the store itself: the check values of the secret keys it was written
-- under (so a store opened with other keys is refused, never silently re-keyed),
-- and, for PostgreSQL with HEADCOUNT_OPERATOR_SECRET, its encrypted key ring.
CREATE TABLE IF NOT EXISTS meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
