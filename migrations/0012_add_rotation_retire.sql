-- Issue 20: a rotation's claim is tied to the claimant's PostgreSQL session, and runs gain a final `retire` step.
--   claim_session: the key of the session-level advisory lock (class 7002) that the claimant's process holds for its
--                  whole life; a claim whose lock no session holds is free at once (its broker died).
--   grace_seconds: how long `retire` waits for live consumers to acknowledge the new version (null: the broker
--                  default; 0: no retirement, the behaviour before issue 20).
--   retire_at:     when the run in its `retire` step retires the previous credential whatever consumers say.
--   retire_path:   the path consumers acknowledge (e.g. "database/static-creds/app"), so that an ack wakes the run.
ALTER TABLE rotations ADD COLUMN claim_session bigint;
ALTER TABLE rotations ADD COLUMN grace_seconds bigint;
ALTER TABLE rotations ADD COLUMN retire_at timestamptz;
ALTER TABLE rotations ADD COLUMN retire_path text;
ALTER TABLE rotations DROP CONSTRAINT IF EXISTS rotations_step_check;
ALTER TABLE rotations ADD CONSTRAINT rotations_step_check CHECK (step IN ('create', 'set', 'test', 'finish', 'retire'));
CREATE INDEX rotations_retire_path_idx ON rotations (retire_path) WHERE retire_path IS NOT NULL;
-- Which consumers had acknowledged (and which had not) when the run retired the previous credential.
ALTER TABLE rotation_runs ADD COLUMN consumers jsonb;
