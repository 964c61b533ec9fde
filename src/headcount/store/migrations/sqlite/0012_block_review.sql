-- Blocks staff dismissed after review: their members lose the reason, and the job does
-- not flag the same members for the same pattern again (see store/blocks.py::same_pattern).
CREATE TABLE block_review (
    block_id      TEXT PRIMARY KEY,
    dismissed_at  DOUBLE PRECISION NOT NULL,
    dismissed_by  TEXT NOT NULL,
    reason        TEXT NOT NULL,
    actors        TEXT NOT NULL,
    targets       TEXT NOT NULL
);
