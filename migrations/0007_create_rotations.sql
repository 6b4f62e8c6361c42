-- Rotations (DESIGN §6, issue 7): one row per rotated thing, with its schedule and the run in progress. A run is a
-- persisted state machine (create → set → test → finish): `step` and the sealed `pending` value are written before
-- each step's effect, so a crash resumes where it stopped. `claim_id`/`claim_until` let one replica drive a run.
CREATE TABLE rotations (
  id text PRIMARY KEY,
  mount_id text,
  kind text NOT NULL,
  target text NOT NULL,
  schedule text,
  period_seconds bigint,
  paused boolean NOT NULL DEFAULT false,
  next_run_at timestamptz,
  last_run_at timestamptz,
  last_status text,
  last_error text,
  run_id text,
  run_slot timestamptz,
  run_kind text,
  step text CHECK (step IN ('create', 'set', 'test', 'finish')),
  pending bytea,
  attempts int NOT NULL DEFAULT 0,
  claim_id text,
  claim_until timestamptz,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX rotations_next_run_at_idx ON rotations (next_run_at) WHERE NOT paused;

-- One row per run. A scheduled slot runs once: (rotation_id, slot) is unique.
CREATE TABLE rotation_runs (
  rotation_id text NOT NULL,
  run_id text NOT NULL,
  slot timestamptz,
  kind text NOT NULL CHECK (kind IN ('scheduled', 'manual')),
  replica text NOT NULL,
  started_at timestamptz NOT NULL,
  finished_at timestamptz,
  status text NOT NULL DEFAULT 'running' CHECK (status IN ('running', 'ok', 'failed')),
  step text,
  error text,
  PRIMARY KEY (rotation_id, run_id)
);
CREATE UNIQUE INDEX rotation_runs_slot_idx ON rotation_runs (rotation_id, slot) WHERE slot IS NOT NULL;
CREATE INDEX rotation_runs_started_at_idx ON rotation_runs (rotation_id, started_at DESC);
