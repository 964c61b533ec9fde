-- The identity graph's counts (issue 12), shared by every server process.
-- identity_pairs: which identity keys were seen together in an accepted hold (both orders), so
-- that identity_facts can count each one's distinct partners by kind ('p:email' = mailboxes
-- behind a device, 'p:addr' = spellings of a mailbox, 'p:dev' = devices behind a network...).
CREATE TABLE identity_pairs (
    a  TEXT NOT NULL,
    b  TEXT NOT NULL,
    PRIMARY KEY (a, b)
);
CREATE TABLE identity_facts (
    identity  TEXT NOT NULL,
    fact      TEXT NOT NULL,
    n         BIGINT NOT NULL,
    PRIMARY KEY (identity, fact)
);
-- Behaviour memory: the identity keys behind each hold, so a hold's fate (confirmed, or
-- expired/released unconfirmed) counts for the device, mailbox and number that made it.
CREATE TABLE hold_keys (
    identity  TEXT NOT NULL,
    token     TEXT NOT NULL,
    PRIMARY KEY (identity, token)
);
-- Verification: codes issued for an e-mail address or phone number (the client delivers
-- them), and the identities whose owner proved control of them.
CREATE TABLE verifications (
    id            TEXT PRIMARY KEY,
    identity      TEXT NOT NULL,
    code_hash     TEXT NOT NULL,
    created_at    DOUBLE PRECISION NOT NULL,
    expires_at    DOUBLE PRECISION NOT NULL,
    attempts      INTEGER NOT NULL DEFAULT 0,
    confirmed_at  DOUBLE PRECISION
);
CREATE TABLE verified (
    identity     TEXT PRIMARY KEY,
    verified_at  DOUBLE PRECISION NOT NULL
);
