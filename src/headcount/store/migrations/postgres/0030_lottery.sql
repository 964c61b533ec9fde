-- Lottery pools (issue 16): the allocation of a pool, and its registrations.
-- A lottery pool's ledger capacity stays at what the lottery issued (0 before the
-- draw), so no hold outside the draw can take a seat; the venue's capacity is here.
CREATE TABLE allocations (
    pool_id           TEXT PRIMARY KEY REFERENCES pools (id),
    mode              TEXT NOT NULL CHECK (mode IN ('lottery')),
    closes_at         float8 NOT NULL,
    confirm_within_s  bigint NOT NULL CHECK (confirm_within_s >= 1),
    overbook_risk     float8 NOT NULL CHECK (overbook_risk >= 0 AND overbook_risk < 1),
    capacity          bigint NOT NULL CHECK (capacity >= 0),
    seed              TEXT NOT NULL,      -- secret until the draw, its commitment is public
    commitment        TEXT NOT NULL,
    created_at        float8 NOT NULL,
    closed            INTEGER NOT NULL DEFAULT 0,
    drawn_at          float8,
    draw              TEXT                -- the published draw (JSON)
);
CREATE INDEX allocations_due ON allocations (closes_at) WHERE drawn_at IS NULL;

CREATE TABLE registrations (
    seq           bigserial PRIMARY KEY,
    token         TEXT NOT NULL UNIQUE,   -- the registration id is 'r_' || token
    pool_id       TEXT NOT NULL REFERENCES allocations (pool_id),
    actor_key     TEXT NOT NULL,          -- the person (keyed hash), as linked when registering
    quantity      bigint NOT NULL CHECK (quantity >= 1),
    risk_score    float8 NOT NULL,
    risk_reasons  TEXT NOT NULL DEFAULT '[]',
    identities    TEXT NOT NULL DEFAULT '[]',  -- the person's identity keys (to link again at the draw)
    network       TEXT,                   -- keyed hash of the network (/24, /64), for the draw's detection
    device        TEXT,
    phone_block   TEXT,                   -- keyed hash of the number's block (E.164 without its last 3 digits)
    phone_run     TEXT,                   -- two keyed windows of ten numbers (numbers at most 5 apart share one)
    owner         TEXT,                   -- the client that registered (its win's hold belongs to it)
    created_at    float8 NOT NULL,
    status        TEXT NOT NULL DEFAULT 'registered'
                  CHECK (status IN ('registered', 'won', 'waitlisted', 'refused', 'confirmed', 'lapsed')),
    position      bigint,                     -- place in the draw order (waitlist order)
    hold_token    TEXT,                   -- the win's hold
    note          TEXT,                   -- why refused, or how the win came (drawn, passed_down)
    UNIQUE (pool_id, actor_key)
);
CREATE INDEX registrations_by_status ON registrations (pool_id, status, position);
