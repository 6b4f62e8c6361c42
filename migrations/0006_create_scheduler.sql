-- The scheduler (DESIGN §6): node-cron fires on every replica; these tables make each slot of an exclusive job run
-- on exactly one of them, and keep what node-cron does not persist (next due time, last result, history).
CREATE TABLE scheduled_jobs (
  name text PRIMARY KEY,
  schedule text NOT NULL,
  paused boolean NOT NULL DEFAULT false,
  next_run_at timestamptz,
  last_run_at timestamptz,
  last_status text,
  last_error text,
  updated_at timestamptz NOT NULL DEFAULT now()
);

-- One row per claimed slot of an exclusive job: the primary key is the run coordinator (INSERT … ON CONFLICT DO
-- NOTHING decides which replica runs the slot). `slot` is the scheduled time; catch-up runs after downtime use
-- the missed due time as their slot, so a missed slot runs once however many replicas start.
CREATE TABLE job_runs (
  job text NOT NULL,
  slot timestamptz NOT NULL,
  kind text NOT NULL DEFAULT 'scheduled' CHECK (kind IN ('scheduled', 'catchup', 'manual')),
  replica text NOT NULL,
  started_at timestamptz NOT NULL,
  finished_at timestamptz,
  status text NOT NULL DEFAULT 'running' CHECK (status IN ('running', 'ok', 'failed', 'skipped')),
  error text,
  PRIMARY KEY (job, slot)
);
CREATE INDEX job_runs_started_at_idx ON job_runs (job, started_at DESC);
