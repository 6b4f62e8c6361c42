-- A secret an engine is about to create on a target (a database user, before CREATE ROLE) is recorded here first.
-- The row is deleted in the transaction that stores the secret's lease, or when the engine undoes the secret itself.
-- A row older than lease_intent_grace is a secret whose broker died before its lease was stored: the sweep job
-- revokes it through the engine (DROP ROLE) and deletes the row. `internal` is sealed by the barrier (context
-- "lease-intents/<id>"), as a lease's is.
CREATE TABLE lease_intents (
  id text COLLATE "C" PRIMARY KEY,
  mount_id text NOT NULL,
  secret_type text NOT NULL,
  internal bytea NOT NULL,
  created_at timestamptz NOT NULL
);
CREATE INDEX lease_intents_created_at_idx ON lease_intents (created_at);

-- The login-failures prune job deletes expired windows by age.
CREATE INDEX login_failures_first_failed_at_idx ON login_failures (first_failed_at);
