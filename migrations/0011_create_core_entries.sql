-- Sealed storage of the builtin mounts (sys/, auth/token/), which have no row in mounts: token roles under
-- "token/roles/<name>", response-wrapped responses under "wrapping/<accessor>". Every value is a barrier envelope
-- bound to its id (context "core/<id>"); the keyring rewrap covers this table like leases and rotations.
CREATE TABLE core_entries (
  id text COLLATE "C" PRIMARY KEY,
  sealed bytea NOT NULL,
  updated_at timestamptz NOT NULL DEFAULT now()
);

-- The last renewal of a token (auth/token/lookup's last_renewal_time); null until it is first renewed.
ALTER TABLE tokens ADD COLUMN last_renewal_at timestamptz;
