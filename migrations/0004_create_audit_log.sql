-- Tamper-evident audit log (DESIGN §7). One row per request (with its response). `entry` is the canonical JSON
-- the chain covers; the other columns are copies of its fields, for searching. hash = SHA-256(prev hash ‖ entry).
CREATE TABLE audit_entries (
  seq bigint PRIMARY KEY,
  time timestamptz NOT NULL,
  request_id text NOT NULL,
  type text NOT NULL,
  operation text NOT NULL,
  mount_path text,
  path text COLLATE "C" NOT NULL,
  accessor text,
  remote_address text,
  outcome text NOT NULL,
  entry text NOT NULL,
  hash bytea NOT NULL
);
-- Every index is paid for on every request, so only the selective ones: 'success' and the operation values are
-- common enough that a scan in seq order finds them. There is no time index (it cost a tenth of the audited
-- throughput): checkpoints carry the time of the entry they pin, which turns a time range into a seq range.
CREATE INDEX audit_entries_path_idx ON audit_entries (path, seq);
CREATE INDEX audit_entries_accessor_idx ON audit_entries (accessor, seq) WHERE accessor IS NOT NULL;
CREATE INDEX audit_entries_outcome_idx ON audit_entries (outcome, seq) WHERE outcome <> 'success';

-- The chain head: every appender, on every replica, extends the chain under this row's lock.
CREATE TABLE audit_head (
  id int PRIMARY KEY CHECK (id = 1),
  seq bigint NOT NULL,
  hash bytea NOT NULL
);
INSERT INTO audit_head (id, seq, hash) VALUES (1, 0, decode(repeat('00', 32), 'hex'));

-- Raised by an append whose expected head is gone (another replica, or an earlier batch of this one, is not
-- where the batch expected it): the whole statement rolls back and the appender rebuilds the batch.
CREATE FUNCTION audit_head_moved() RETURNS int LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'audit chain head moved' USING ERRCODE = 'SBX01';
END
$$;

-- Signed checkpoints pin the head: Ed25519 over canonical {"hash":hex,"seq":n,"time":iso}.
CREATE TABLE audit_checkpoints (
  seq bigint PRIMARY KEY,
  hash bytea NOT NULL,
  time timestamptz NOT NULL,
  signature bytea NOT NULL,
  public_key bytea NOT NULL
);

-- Retention: entries may be pruned only up to what has been exported.
CREATE TABLE audit_exports (
  id int PRIMARY KEY CHECK (id = 1),
  exported_through bigint NOT NULL,
  updated_at timestamptz NOT NULL DEFAULT now()
);
INSERT INTO audit_exports (id, exported_through) VALUES (1, 0);
