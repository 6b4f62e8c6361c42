-- Issue 19: each run keeps every step it went through, with its time, for the console's run history. `steps` is a
-- JSON array of {"step", "at"} (and {"step", "at", "status": "failed", "error"} for a failed attempt of a step),
-- appended in the statement that moves the run on; runs from before this migration have none (their last `step` stays).
-- Display only: nothing decides on it, so it is not covered by a row MAC (SECURITY.md, untrusted storage).
ALTER TABLE rotation_runs ADD COLUMN steps jsonb;
