-- ACL policies (Vault policy documents). Not secret: stored as text and as normalised rules.
CREATE TABLE policies (
  name text PRIMARY KEY,
  document text NOT NULL,
  rules jsonb NOT NULL,
  updated_at timestamptz NOT NULL DEFAULT now()
);

-- The identity a token carries from the auth method that minted it (for templated policies).
ALTER TABLE tokens ADD COLUMN entity_name text NOT NULL DEFAULT '';
ALTER TABLE tokens ADD COLUMN alias jsonb;

-- Failed-login lockout, shared by all replicas. Identities are stored only as HMACs.
CREATE TABLE login_failures (
  mount_id uuid NOT NULL,
  identity_hmac bytea NOT NULL,
  failures int NOT NULL,
  first_failed_at timestamptz NOT NULL,
  locked_until timestamptz,
  PRIMARY KEY (mount_id, identity_hmac)
);
