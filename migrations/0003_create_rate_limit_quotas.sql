-- Rate-limit quotas (Vault's sys/quotas/rate-limit/:name). Definitions are not secret.
-- `path` is '' (global), a mount ("secret/") or a path under a mount ("secret/data/app"); one quota per path.
CREATE TABLE rate_limit_quotas (
  name text PRIMARY KEY,
  path text NOT NULL UNIQUE,
  rate double precision NOT NULL CHECK (rate > 0),
  interval_seconds int NOT NULL CHECK (interval_seconds > 0),
  block_interval_seconds int NOT NULL DEFAULT 0 CHECK (block_interval_seconds >= 0),
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);

-- sys/quotas/config: a single row (absent until first written; the code supplies Vault's defaults).
CREATE TABLE quota_config (
  id int PRIMARY KEY CHECK (id = 1),
  enable_rate_limit_response_headers boolean NOT NULL,
  rate_limit_exempt_paths jsonb NOT NULL,
  updated_at timestamptz NOT NULL DEFAULT now()
);

-- Shared request counters: one row per (quota, client address) holding the current fixed window, counted on the
-- database clock so that every replica agrees on window boundaries. Replicas reserve capacity in chunks.
CREATE TABLE rate_limit_counters (
  quota_name text NOT NULL,
  client_key text NOT NULL,
  window_end timestamptz NOT NULL,
  used bigint NOT NULL,
  blocked_until timestamptz,
  PRIMARY KEY (quota_name, client_key)
);
CREATE INDEX rate_limit_counters_window_end_idx ON rate_limit_counters (window_end);
