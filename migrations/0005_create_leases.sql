-- Leases for dynamic secrets (DESIGN §4). One row per live lease; nothing is ever loaded whole into memory.
-- `id` is "<mount path><request path>/<random>" and sorts bytewise (COLLATE "C"), so a prefix is an index range.
-- `due_at` is when the expiry worker must next look at the row: the expiry for an active lease, the end of a
-- claim (claim_id) while a replica revokes it, the next retry after a failure, or the daily retry of an irrevocable lease.
CREATE TABLE leases (
  id text COLLATE "C" PRIMARY KEY,
  mount_id text NOT NULL,
  secret_type text NOT NULL,
  -- Sealed by the barrier (context "leases/<id>"): what the engine needs to renew and revoke.
  internal bytea NOT NULL,
  token_accessor text,
  issued_at timestamptz NOT NULL,
  last_renewed_at timestamptz,
  expires_at timestamptz NOT NULL,
  max_expires_at timestamptz NOT NULL,
  ttl_seconds bigint NOT NULL,
  renewable boolean NOT NULL,
  state text NOT NULL DEFAULT 'active' CHECK (state IN ('active', 'revoking', 'irrevocable')),
  due_at timestamptz NOT NULL,
  -- Set while one replica (or an explicit revoke) holds the lease until due_at; only the holder may delete the row
  -- or record a failure, so a lease is never revoked by two parties at once.
  claim_id text,
  revoke_attempts int NOT NULL DEFAULT 0,
  last_error text
);
CREATE INDEX leases_due_at_idx ON leases (due_at);
CREATE INDEX leases_token_accessor_idx ON leases (token_accessor) WHERE token_accessor IS NOT NULL;
CREATE INDEX leases_irrevocable_idx ON leases (id) WHERE state = 'irrevocable';

-- Lease count quotas (sys/quotas/lease-count/:name). `used` counts the live leases under `path` ('' = all),
-- kept in step with the leases table inside the same transactions.
CREATE TABLE lease_count_quotas (
  name text PRIMARY KEY,
  path text COLLATE "C" NOT NULL UNIQUE,
  max_leases bigint NOT NULL CHECK (max_leases > 0),
  used bigint NOT NULL DEFAULT 0,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);

-- Password policies (sys/policies/password/:name): generation rules, not secrets.
CREATE TABLE password_policies (
  name text PRIMARY KEY,
  policy jsonb NOT NULL,
  updated_at timestamptz NOT NULL DEFAULT now()
);
