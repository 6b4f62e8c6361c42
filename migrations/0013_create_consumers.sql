-- Issue 20: consumers of rotated secrets and the versions they acknowledged (PUT sys/consumers/ack). One row per
-- (path, token accessor); the identity is the login's alias ("<auth mount accessor>:<alias name>"), or null.
-- No secret is stored here: a path, an accessor, a version number and times.
CREATE TABLE consumers (
  path text NOT NULL,
  accessor text NOT NULL,
  identity text,
  display_name text NOT NULL DEFAULT '',
  version bigint NOT NULL,
  acked_at timestamptz NOT NULL,
  last_seen_at timestamptz NOT NULL,
  PRIMARY KEY (path, accessor)
);
CREATE INDEX consumers_last_seen_idx ON consumers (path, last_seen_at);
