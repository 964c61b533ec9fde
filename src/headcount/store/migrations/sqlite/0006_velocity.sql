-- Velocity: registrations per key (a network, a phone-number block) per minute, shared by
-- every server process; the sweeper drops buckets older than a day.
CREATE TABLE velocity (
    key     TEXT NOT NULL,
    bucket  BIGINT NOT NULL,
    count   BIGINT NOT NULL,
    PRIMARY KEY (key, bucket)
);
