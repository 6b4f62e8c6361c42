-- Seal: one row once the store is initialised. The root key itself is never stored.
CREATE TABLE seal_configs (
  id int PRIMARY KEY CHECK (id = 1),
  seal_type text NOT NULL,
  secret_shares int NOT NULL,
  secret_threshold int NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now()
);

-- Keyring: each term's key-encryption key, sealed by the root key.
CREATE TABLE keyring_terms (
  term int PRIMARY KEY,
  sealed_key bytea NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE mounts (
  id uuid PRIMARY KEY,
  path text NOT NULL UNIQUE,
  class text NOT NULL CHECK (class IN ('secret', 'auth')),
  type text NOT NULL,
  description text NOT NULL DEFAULT '',
  config jsonb NOT NULL DEFAULT '{}',
  options jsonb NOT NULL DEFAULT '{}',
  created_at timestamptz NOT NULL DEFAULT now()
);

-- Engine storage: every value is an envelope (see core/barrier.ts) bound to (mount_id, key).
CREATE TABLE entries (
  mount_id uuid NOT NULL REFERENCES mounts (id) ON DELETE CASCADE,
  key text COLLATE "C" NOT NULL,
  sealed bytea NOT NULL,
  key_term int NOT NULL,
  updated_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (mount_id, key)
);
CREATE INDEX entries_key_term_idx ON entries (key_term);

-- Tokens are stored only as HMAC-SHA256(token_hmac_key, token).
CREATE TABLE tokens (
  token_hmac bytea PRIMARY KEY,
  accessor text NOT NULL UNIQUE,
  parent_accessor text,
  policies text[] NOT NULL,
  display_name text NOT NULL,
  meta jsonb NOT NULL DEFAULT '{}',
  path text NOT NULL,
  orphan boolean NOT NULL,
  renewable boolean NOT NULL,
  creation_ttl int NOT NULL,
  explicit_max_ttl int NOT NULL DEFAULT 0,
  period int NOT NULL DEFAULT 0,
  num_uses int NOT NULL DEFAULT 0,
  created_at timestamptz NOT NULL DEFAULT now(),
  expires_at timestamptz,
  max_expires_at timestamptz
);
CREATE INDEX tokens_parent_accessor_idx ON tokens (parent_accessor);
CREATE INDEX tokens_expires_at_idx ON tokens (expires_at) WHERE expires_at IS NOT NULL;
