-- Encrypted raw contact data (only when the operator keeps it) and the audit chain.
CREATE TABLE contacts (
    actor_key   text NOT NULL,
    kind        text NOT NULL,
    value_key   text NOT NULL,
    key_id      text NOT NULL,
    nonce       bytea NOT NULL,
    ciphertext  bytea NOT NULL,
    created_at  float8 NOT NULL,
    PRIMARY KEY (actor_key, kind, value_key)
);
CREATE INDEX contacts_by_age ON contacts (created_at);

CREATE TABLE audit (
    seq       bigint PRIMARY KEY,
    ts        float8 NOT NULL,
    who       text NOT NULL,
    role      text NOT NULL,
    action    text NOT NULL,
    subject   text NOT NULL,
    reason    text NOT NULL,
    key_id    text NOT NULL,
    prev_mac  text NOT NULL,
    mac       text NOT NULL
);
