-- Encrypted raw contact data (only when the operator keeps it) and the audit chain.
CREATE TABLE contacts (
    actor_key   TEXT NOT NULL,
    kind        TEXT NOT NULL,
    value_key   TEXT NOT NULL,     -- pseudonym of the value: one row per distinct value
    key_id      TEXT NOT NULL,     -- which secret encrypted it
    nonce       BLOB NOT NULL,
    ciphertext  BLOB NOT NULL,
    created_at  REAL NOT NULL,
    PRIMARY KEY (actor_key, kind, value_key)
) WITHOUT ROWID;
CREATE INDEX contacts_by_age ON contacts (created_at);

CREATE TABLE audit (
    seq       INTEGER PRIMARY KEY,
    ts        REAL NOT NULL,
    who       TEXT NOT NULL,
    role      TEXT NOT NULL,
    action    TEXT NOT NULL,
    subject   TEXT NOT NULL,
    reason    TEXT NOT NULL,
    key_id    TEXT NOT NULL,
    prev_mac  TEXT NOT NULL,
    mac       TEXT NOT NULL
);
