-- Holds belong to the client that made them (issue 13, H2), and hold ids no longer
-- carry the global sequence number: a hold is found by its random token.
--
-- owner NULL: the hold was made before holds had owners (or by a caller that named
-- none: an operator, the CLI, the library). Such a hold answers only to callers
-- that pass no owner; a client key that asks for it gets "unknown hold", exactly
-- as for a hold that does not exist. Holds of clients made before the upgrade can
-- therefore no longer be confirmed by those clients; unconfirmed ones simply expire.
ALTER TABLE holds ADD COLUMN owner TEXT;
-- new tokens begin with the creation time, so this index grows at its end like the table
CREATE INDEX holds_token ON holds (token);
