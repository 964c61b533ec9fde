-- Coordinated groups found by the detection job over the action log (the latest run's).
-- A block keeps its id (a digest of its members) and first detection time across runs.
CREATE TABLE blocks (
    id           TEXT PRIMARY KEY,
    detected_at  DOUBLE PRECISION NOT NULL,
    updated_at   DOUBLE PRECISION NOT NULL,
    detector     TEXT NOT NULL,
    score        DOUBLE PRECISION NOT NULL,
    start_ts     DOUBLE PRECISION NOT NULL,
    end_ts       DOUBLE PRECISION NOT NULL,
    density      DOUBLE PRECISION NOT NULL,
    events       INTEGER NOT NULL,
    actors       TEXT NOT NULL,
    targets      TEXT NOT NULL,
    evidence     TEXT NOT NULL
);
CREATE INDEX blocks_newest ON blocks (detected_at);
-- who is in a block: what the guard asks for every decision (as a set held in memory)
CREATE TABLE block_members (
    actor_key  TEXT NOT NULL,
    block_id   TEXT NOT NULL REFERENCES blocks (id) ON DELETE CASCADE,
    PRIMARY KEY (actor_key, block_id)
);
