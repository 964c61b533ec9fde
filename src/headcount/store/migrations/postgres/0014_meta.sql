-- Facts about the store itself, one text value per key: `ping` proves the store can
-- write; the key ring's check values live here too. The same table as the lead's
-- 0020_meta.sql (IF NOT EXISTS either way round), so both can be applied in any order.
CREATE TABLE IF NOT EXISTS meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
