-- The audit log becomes a Merkle tree log (issue 14, DESIGN §7, CONTRACT §6). RFC 9162 §2.1 hashing:
-- leaf = SHA-256(0x00 ‖ entry), node = SHA-256(0x01 ‖ left ‖ right); leaf i is the entry with seq i + 1.
-- audit_entries.hash now holds the LEAF hash of its entry (it held the unkeyed chain hash, which is dropped).
UPDATE audit_entries SET hash = sha256('\x00'::bytea || convert_to(entry, 'UTF8'));
-- HMAC-SHA256(key derived from the root key, leaf hash): written by the appender, checked by the server-side verify,
-- it names exactly the entry an SQL writer rewrote even when they recomputed every hash. NULL for entries logged
-- before this migration (those are checked by the tree and the checkpoints only).
ALTER TABLE audit_entries ADD COLUMN mac bytea;

-- Interior nodes at levels 8, 16, 24, … only (a subtree at another level folds from at most 128 hashes below it):
-- an append of n entries writes about n/255 rows here.
CREATE TABLE audit_tree_nodes (
  level smallint NOT NULL,
  idx bigint NOT NULL,
  hash bytea NOT NULL,
  PRIMARY KEY (level, idx)
);

-- The head: seq = tree size, hash = root hash, frontier = the roots of the perfect subtrees (one per set bit of
-- the size, largest first, 32 bytes each). Every appender on every replica moves it by compare-and-set on (seq, hash).
ALTER TABLE audit_head ADD COLUMN frontier bytea NOT NULL DEFAULT '\x'::bytea;

-- Old checkpoints signed the chain hash in a JSON message: kept for the record, no longer verified.
ALTER TABLE audit_checkpoints RENAME TO audit_checkpoints_v1;
ALTER TABLE audit_checkpoints_v1 RENAME CONSTRAINT audit_checkpoints_pkey TO audit_checkpoints_v1_pkey;

-- C2SP tlog-checkpoint signed notes. seq = tree size, hash = root; note = the note as signed by the broker (text,
-- blank line, its signature line); frontier as in audit_head (lets verify resume after a prune at this size);
-- time = the time of entry seq (a search hint only, NOT signed).
CREATE TABLE audit_checkpoints (
  seq bigint PRIMARY KEY,
  hash bytea NOT NULL,
  time timestamptz NOT NULL,
  note text NOT NULL,
  frontier bytea NOT NULL
);

-- Witness cosignatures (c2sp.org/tlog-cosignature) of a checkpoint: one per (size, witness key).
CREATE TABLE audit_cosignatures (
  seq bigint NOT NULL,
  name text NOT NULL,
  key_id bytea NOT NULL,
  line text NOT NULL,
  signed_at timestamptz NOT NULL,
  PRIMARY KEY (seq, name, key_id)
);

-- Export and prune marks are signed notes by the log key ("sealbox-audit-export/v1" / "sealbox-audit-prune/v1",
-- origin, seq): verify accepts a missing prefix only under a signed prune mark.
ALTER TABLE audit_exports ADD COLUMN export_note text;
ALTER TABLE audit_exports ADD COLUMN pruned_through bigint NOT NULL DEFAULT 0;
ALTER TABLE audit_exports ADD COLUMN prune_note text;

-- Build the tree over entries already logged (an unpruned log; a pruned legacy log cannot be rebuilt and is
-- refused: export it, then empty audit_entries and set audit_head to (0, SHA-256("")).
DO $$
DECLARE
  f bytea[] := '{}';
  n bigint := 0;
  m bigint;
  lvl int;
  h bytea;
  r record;
  root bytea;
  first bigint;
  fb bytea := '\x'::bytea;
BEGIN
  SELECT min(seq) INTO first FROM audit_entries;
  IF first IS NOT NULL AND first <> 1 THEN
    RAISE EXCEPTION 'audit log was pruned before the Merkle tree (first seq %): export it and empty audit_entries first', first;
  END IF;
  FOR r IN SELECT seq, hash FROM audit_entries ORDER BY seq LOOP
    IF r.seq <> n + 1 THEN
      RAISE EXCEPTION 'audit log has a gap at seq %', n + 1;
    END IF;
    h := r.hash;
    m := n;
    lvl := 0;
    WHILE m % 2 = 1 LOOP
      h := sha256('\x01'::bytea || f[array_length(f, 1)] || h);
      f := f[1:array_length(f, 1) - 1];
      lvl := lvl + 1;
      m := m / 2;
      IF lvl % 8 = 0 THEN
        INSERT INTO audit_tree_nodes (level, idx, hash) VALUES (lvl, n >> lvl, h);
      END IF;
    END LOOP;
    f := f || h;
    n := n + 1;
  END LOOP;
  IF n = 0 THEN
    root := sha256(''::bytea);
  ELSE
    root := f[array_length(f, 1)];
    FOR i IN REVERSE array_length(f, 1) - 1 .. 1 LOOP
      root := sha256('\x01'::bytea || f[i] || root);
    END LOOP;
  END IF;
  FOR i IN 1 .. coalesce(array_length(f, 1), 0) LOOP
    fb := fb || f[i];
  END LOOP;
  UPDATE audit_head SET seq = n, hash = root, frontier = fb WHERE id = 1;
END
$$;
