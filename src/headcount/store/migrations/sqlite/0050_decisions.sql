-- The decisions log: every guard decision on a hold or action, counted per pool, minute,
-- verb, outcome (allowed, shortened, challenged, denied), policy band and flood flag.
-- `reason` '' counts the decisions themselves; any other value counts the decisions that
-- carried that reason. Server processes add their counts (n = n + excluded.n).
CREATE TABLE IF NOT EXISTS decision_counts (
    pool_id   TEXT NOT NULL,
    bucket    REAL NOT NULL,
    verb      TEXT NOT NULL,
    outcome   TEXT NOT NULL,
    band      TEXT NOT NULL,
    reason    TEXT NOT NULL,
    flooded   INTEGER NOT NULL,
    n         INTEGER NOT NULL,
    first_ts  REAL NOT NULL,
    last_ts   REAL NOT NULL,
    PRIMARY KEY (pool_id, bucket, verb, outcome, band, reason, flooded)
);
CREATE INDEX IF NOT EXISTS decision_counts_by_time ON decision_counts (bucket);
