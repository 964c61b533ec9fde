-- The decisions log: every guard decision on a hold or action, counted per pool, minute,
-- verb, outcome (allowed, shortened, challenged, denied), policy band and flood flag.
-- `reason` '' counts the decisions themselves; any other value counts the decisions that
-- carried that reason. Server processes add their counts (n = n + excluded.n).
CREATE TABLE IF NOT EXISTS decision_counts (
    pool_id   text NOT NULL,
    bucket    double precision NOT NULL,
    verb      text NOT NULL,
    outcome   text NOT NULL,
    band      text NOT NULL,
    reason    text NOT NULL,
    flooded   integer NOT NULL,
    n         integer NOT NULL,
    first_ts  double precision NOT NULL,
    last_ts   double precision NOT NULL,
    PRIMARY KEY (pool_id, bucket, verb, outcome, band, reason, flooded)
);
CREATE INDEX IF NOT EXISTS decision_counts_by_time ON decision_counts (bucket);
