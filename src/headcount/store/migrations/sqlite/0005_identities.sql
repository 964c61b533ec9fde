-- Person linking: each identity key (a keyed hash of an e-mail, phone, device or
-- client id) belongs to one person; identities seen together join one person.
CREATE TABLE identities (
    identity    TEXT PRIMARY KEY,
    person      TEXT NOT NULL,
    created_at  DOUBLE PRECISION NOT NULL
);
CREATE INDEX identities_by_person ON identities (person);
