-- Challenges: a risky hold or action is answered with a challenge for the client to put to
-- the person; the client's backend marks it passed and gets a single-use token bound to the
-- person and the pool or verb. Kept here, not only signed, so that "single use" holds across
-- every server process. Rows live as long as idempotency records (a replay of the request
-- that spent the token must still find it), then the sweeper drops them.
CREATE TABLE challenges (
    id                TEXT PRIMARY KEY,
    actor_key         TEXT NOT NULL,
    scope             TEXT NOT NULL,
    score             DOUBLE PRECISION NOT NULL,
    reasons           TEXT NOT NULL,
    created_at        DOUBLE PRECISION NOT NULL,
    expires_at        DOUBLE PRECISION NOT NULL,
    passed_at         DOUBLE PRECISION,
    token_expires_at  DOUBLE PRECISION,
    redeemed_at       DOUBLE PRECISION,
    redeemed_by       TEXT
);
CREATE INDEX challenges_by_expiry ON challenges (expires_at);
