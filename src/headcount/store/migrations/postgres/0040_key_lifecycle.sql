-- API keys get a lifecycle (issue 13 M7): an expiry, the time of revocation, and a label
-- saying whose key it is. Existing keys never expire and keep their revoked flag.
ALTER TABLE api_keys ADD COLUMN expires_at float8;
ALTER TABLE api_keys ADD COLUMN revoked_at float8;
ALTER TABLE api_keys ADD COLUMN label TEXT;
