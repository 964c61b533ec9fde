-- The holds ledger, API keys and the action log.
CREATE TABLE pools (
    id               TEXT PRIMARY KEY,
    name             TEXT NOT NULL,
    kind             TEXT NOT NULL CHECK (kind IN ('event', 'stock')),
    capacity         INTEGER NOT NULL CHECK (capacity >= 0),
    per_actor_limit  INTEGER NOT NULL CHECK (per_actor_limit >= 1),
    hold_ttl_s       INTEGER NOT NULL CHECK (hold_ttl_s >= 1),
    light_yellow_at  REAL NOT NULL,
    light_red_at     REAL NOT NULL,
    held             INTEGER NOT NULL DEFAULT 0,
    confirmed        INTEGER NOT NULL DEFAULT 0,
    created_at       REAL NOT NULL,
    -- the ledger's invariant, enforced by the database as a last line of defence
    CHECK (held >= 0 AND confirmed >= 0 AND held + confirmed <= capacity)
);

CREATE TABLE holds (
    seq             INTEGER PRIMARY KEY,          -- rowid: appends stay at the B-tree's end
    token           TEXT NOT NULL,                -- makes the public id unguessable
    pool_id         TEXT NOT NULL REFERENCES pools (id),
    actor_key       TEXT NOT NULL,
    quantity        INTEGER NOT NULL CHECK (quantity >= 1),
    status          TEXT NOT NULL CHECK (status IN ('held', 'confirmed', 'released', 'expired')),
    created_at      REAL NOT NULL,
    ttl_s           REAL NOT NULL,
    expires_at      REAL NOT NULL,
    max_expires_at  REAL NOT NULL,
    risk_score      REAL NOT NULL DEFAULT 0,
    risk_reasons    TEXT NOT NULL DEFAULT '[]'
);
CREATE INDEX holds_by_actor ON holds (pool_id, actor_key);
CREATE INDEX holds_due ON holds (pool_id, expires_at) WHERE status = 'held';

CREATE TABLE idempotency (
    scope         TEXT NOT NULL,
    key           TEXT NOT NULL,
    request_hash  TEXT NOT NULL,
    result        TEXT NOT NULL,
    body          TEXT NOT NULL,
    created_at    REAL NOT NULL,
    PRIMARY KEY (scope, key)
) WITHOUT ROWID;

CREATE TABLE api_keys (
    key_id       TEXT PRIMARY KEY,
    secret_hash  TEXT NOT NULL,
    role         TEXT NOT NULL,
    created_at   REAL NOT NULL,
    revoked      INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE actions (
    seq        INTEGER PRIMARY KEY,
    ts         REAL NOT NULL,
    verb       TEXT NOT NULL,
    actor_key  TEXT NOT NULL,
    target     TEXT NOT NULL,
    pool_id    TEXT,
    quantity   INTEGER NOT NULL DEFAULT 0,
    decision   TEXT NOT NULL,
    score      REAL NOT NULL DEFAULT 0,
    reasons    TEXT NOT NULL DEFAULT '[]',
    attrs      TEXT NOT NULL DEFAULT '{}'
);
