-- Credential lineage (issue 19): an index from lookup keys to the audit entries that name them, built from the
-- audit log itself (every fact it answers with is in a Merkle-verified entry). A key is HMAC-SHA256 under a key
-- derived from the root key ("audit-lineage") of the value's audit HMAC, so a database reader learns nothing from
-- it: not a username, serial, lease ID or accessor, and not even the HMAC that the entries hold.
CREATE TABLE audit_lineage_keys (
  key bytea NOT NULL,
  seq bigint NOT NULL,
  PRIMARY KEY (key, seq)
);

-- How far the index has read the log (the highest seq indexed).
CREATE TABLE audit_lineage_progress (
  id int PRIMARY KEY CHECK (id = 1),
  indexed_through bigint NOT NULL DEFAULT 0
);
INSERT INTO audit_lineage_progress (id, indexed_through) VALUES (1, 0);
