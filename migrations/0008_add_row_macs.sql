-- Untrusted storage (issue 13): every row that decides access or lifetime carries `mac`, an HMAC-SHA256 under a key
-- derived from the root key (core/integrity/row-mac.ts) over the table name, the primary key and the columns that
-- matter. Rows written before this migration have no MAC: the process that applies this migration adopts them
-- (computes their MACs) at its first unseal; any other process refuses a row without a MAC.
ALTER TABLE tokens ADD COLUMN mac bytea;
-- The authenticated use limit: num_uses counts down in SQL and must stay within [-1, num_uses_limit].
ALTER TABLE tokens ADD COLUMN num_uses_limit int NOT NULL DEFAULT 0;
UPDATE tokens SET num_uses_limit = GREATEST(num_uses, 0);
ALTER TABLE policies ADD COLUMN mac bytea;
ALTER TABLE mounts ADD COLUMN mac bytea;
ALTER TABLE leases ADD COLUMN mac bytea;
ALTER TABLE rate_limit_quotas ADD COLUMN mac bytea;
ALTER TABLE quota_config ADD COLUMN mac bytea;
ALTER TABLE lease_count_quotas ADD COLUMN mac bytea;
ALTER TABLE password_policies ADD COLUMN mac bytea;
ALTER TABLE rotations ADD COLUMN mac bytea;
ALTER TABLE seal_configs ADD COLUMN mac bytea;
-- Over (name, paused): a job is skipped as paused only when the pause checks (the schedule comes from the config).
ALTER TABLE scheduled_jobs ADD COLUMN mac bytea;

-- A revoked token's HMAC is kept (authenticated) until the token could no longer have been used anyway, so that a
-- token row restored from a backup is refused. `until` NULL: the token had no maximum lifetime; kept for good.
CREATE TABLE token_tombstones (
  token_hmac bytea PRIMARY KEY,
  accessor text NOT NULL,
  until timestamptz,
  mac bytea NOT NULL
);
CREATE INDEX token_tombstones_until_idx ON token_tombstones (until) WHERE until IS NOT NULL;
