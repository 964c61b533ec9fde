-- Small facts about the store itself; `ping` writes a row here to prove the store can write.
CREATE TABLE store_meta (
    key    TEXT PRIMARY KEY,
    value  TEXT NOT NULL
) WITHOUT ROWID;
