#!/usr/bin/env bash
# sealbox local quickstart: the whole thing on one machine, no Docker, no Kubernetes.
#
#   bash deploy/quickstart/run.sh          (from a checkout after `npm ci`; needs PostgreSQL server binaries,
#                                           e.g. Debian's postgresql package, and curl)
#
# What it does, step by step (each step is printed as it runs):
#   1. starts a throwaway PostgreSQL cluster in a temp dir. It holds two databases:
#        sealbox  the broker's own storage
#        app      the "target": the database an application uses, with a table and a group role that may read it
#   2. starts the broker (dev mode, storage in PostgreSQL)
#   3. mounts the database secrets engine, gives it the target's connection and a role "app" that mints short-lived
#      PostgreSQL users who are members of the group role
#   4. sets up AppRole for the application: a policy that may read database/creds/app and follow the event stream,
#      a role, and its role_id / secret_id written to files (in Kubernetes the agent would use its service account)
#   5. runs the agent (as a sidecar would), which logs in and renders the credential into an env file on tmpfs
#   6. runs a demo application that knows nothing about sealbox: it reads the env file and SELECTs from the target
# and finally stops everything and deletes every file it made, whatever happened. Exit 0 means the application
# read the credential and used it.
#
# Environment: PG_BIN (PostgreSQL server binaries; default the newest /usr/lib/postgresql/*/bin, else pg_ctl on PATH).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
step() { printf '\n==> %s\n' "$*"; }
die() { printf 'quickstart: %s\n' "$*" >&2; exit 1; }

# ---------------------------------------------------------------------------------------------------------------
# Prerequisites
# ---------------------------------------------------------------------------------------------------------------
command -v node >/dev/null || die "node (20+) is not on PATH"
command -v curl >/dev/null || die "curl is not on PATH"
[[ -d $ROOT/node_modules ]] || die "run 'npm ci' in $ROOT first"
if [[ -z ${PG_BIN:-} ]]; then
  PG_BIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
  [[ -n $PG_BIN ]] || PG_BIN=$(dirname "$(command -v pg_ctl 2>/dev/null || echo /nonexistent/pg_ctl)")
fi
[[ -x $PG_BIN/initdb && -x $PG_BIN/pg_ctl && -x $PG_BIN/psql ]] ||
  die "PostgreSQL server binaries not found (Debian: apt-get install postgresql; or set PG_BIN=/path/to/bin)"

# Everything lives in one temp dir, and the credential file on tmpfs (/dev/shm) so that it never touches a disk.
WORK=$(mktemp -d "${TMPDIR:-/tmp}/sealbox-quickstart.XXXXXX")
if [[ -d /dev/shm && -w /dev/shm ]]; then SECRETS=$(mktemp -d /dev/shm/sealbox-quickstart.XXXXXX); else SECRETS=$WORK/secrets; mkdir -m 700 "$SECRETS"; fi
echo "work dir: $WORK"
echo "secrets dir: $SECRETS"

PG_PID_STARTED=""
BROKER_PID=""
AGENT_PID=""

# On any exit: stop the agent (it revokes its lease), then the broker, then PostgreSQL; delete every file.
cleanup() {
  local rc=$?
  set +e
  if [[ -n $AGENT_PID ]]; then kill -TERM "$AGENT_PID" 2>/dev/null; wait "$AGENT_PID" 2>/dev/null; fi
  if [[ -n $BROKER_PID ]]; then kill -TERM "$BROKER_PID" 2>/dev/null; wait "$BROKER_PID" 2>/dev/null; fi
  if [[ -n $PG_PID_STARTED ]]; then as_postgres "$PG_BIN/pg_ctl" stop -D "$WORK/pg/data" -m fast >/dev/null 2>&1; fi
  if [[ $rc -ne 0 ]]; then
    for log in "$WORK/broker.log" "$WORK/agent.log" "$WORK/pg/server.log"; do
      [[ -s $log ]] && { printf '\n--- last lines of %s ---\n' "$log"; tail -n 30 "$log"; }
    done
    printf '\nquickstart FAILED (exit %s)\n' "$rc" >&2
  fi
  rm -rf "$WORK" "$SECRETS"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# PostgreSQL refuses to run as root: as root, its tools run as the postgres OS user (in a dir it can read).
if [[ $(id -u) -eq 0 ]]; then
  as_postgres() { (cd "$WORK" && runuser -u postgres -- "$@"); }
else
  as_postgres() { "$@"; }
fi

free_port() { node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'; }
random_secret() { node -e 'console.log(require("crypto").randomBytes(18).toString("base64url"))'; }
# json FIELD.PATH < body: one field of a JSON document.
json() { node -e 'let s="";process.stdin.on("data",(c)=>(s+=c)).on("end",()=>{let v=JSON.parse(s);for(const k of process.argv[1].split("."))v=v?.[k];if(v===undefined)process.exit(1);console.log(v)})' "$1"; }

# ---------------------------------------------------------------------------------------------------------------
step "1. PostgreSQL: a throwaway cluster ($("$PG_BIN/postgres" --version))"
# ---------------------------------------------------------------------------------------------------------------
PG_PORT=$(free_port)
SEALBOX_DB_PASSWORD=$(random_secret)   # the broker's own storage login
BROKER_DB_PASSWORD=$(random_secret)    # the broker's login on the target (it creates and drops roles there)
chmod 755 "$WORK"
mkdir -p "$WORK/pg/socket"
[[ $(id -u) -eq 0 ]] && chown -R postgres: "$WORK/pg"
as_postgres "$PG_BIN/initdb" -D "$WORK/pg/data" -U postgres --auth-local=trust --auth-host=scram-sha-256 >/dev/null
as_postgres "$PG_BIN/pg_ctl" start -w -D "$WORK/pg/data" -l "$WORK/pg/server.log" \
  -o "-c listen_addresses=127.0.0.1 -p $PG_PORT -k $WORK/pg/socket -c fsync=off -c synchronous_commit=off" >/dev/null
PG_PID_STARTED=yes
psql_as_superuser() { as_postgres "$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$WORK/pg/socket" -p "$PG_PORT" -U postgres "$@"; }
echo "listening on 127.0.0.1:$PG_PORT"

psql_as_superuser -d postgres <<SQL
-- The broker's own storage: a database owned by its own login.
CREATE ROLE sealbox LOGIN PASSWORD '$SEALBOX_DB_PASSWORD';
CREATE DATABASE sealbox OWNER sealbox;
-- The application's database.
CREATE DATABASE app;
SQL

psql_as_superuser -d app <<SQL
CREATE TABLE greetings (id int PRIMARY KEY, message text NOT NULL);
INSERT INTO greetings VALUES (1, 'hello from a database user that did not exist a minute ago');
-- Credentials the broker mints are members of this group: grant privileges to the group once, never per user.
CREATE ROLE app_readers NOLOGIN;
GRANT SELECT ON greetings TO app_readers;
-- The broker's login on the target: no superuser. It may create roles, put them in the group, and end their sessions.
CREATE ROLE sealbox_broker LOGIN CREATEROLE PASSWORD '$BROKER_DB_PASSWORD';
GRANT app_readers TO sealbox_broker WITH ADMIN OPTION;
GRANT pg_signal_backend TO sealbox_broker;
SQL
echo "databases: sealbox (broker storage), app (target: table greetings, group role app_readers, login sealbox_broker)"

# ---------------------------------------------------------------------------------------------------------------
step "2. The broker: sealbox server --dev, storage in PostgreSQL"
# ---------------------------------------------------------------------------------------------------------------
ROOT_TOKEN="root-$(random_secret)"
SEALBOX_DATABASE_URL="postgresql://sealbox:$SEALBOX_DB_PASSWORD@127.0.0.1:$PG_PORT/sealbox" \
  node "$ROOT/bin/sealbox.mjs" server --dev --listen 127.0.0.1:0 --data "$WORK/broker" --dev-root-token "$ROOT_TOKEN" \
  >"$WORK/broker.log" 2>&1 &
BROKER_PID=$!
# Ready when it logs its "listening" line, which carries the address it bound.
for _ in $(seq 1 600); do
  SEALBOX_ADDR=$(grep '"msg":"listening"' "$WORK/broker.log" | sed -n 's/.*"address":"\([^"]*\)".*/\1/p' | head -n 1 || true)
  [[ -n $SEALBOX_ADDR ]] && break
  kill -0 "$BROKER_PID" 2>/dev/null || die "the broker exited during start-up"
  sleep 0.1
done
[[ -n $SEALBOX_ADDR ]] || die "the broker did not start within 60 s"
export SEALBOX_ADDR
echo "broker at $SEALBOX_ADDR"

# api METHOD PATH [JSON]: one call to the broker's Vault-compatible HTTP API as root; prints the response body.
api() {
  local out status
  out=$(curl -sS -X "$1" "$SEALBOX_ADDR/v1/$2" -H "X-Vault-Token: $ROOT_TOKEN" -H 'Content-Type: application/json' \
    ${3:+--data "$3"} -w '\n%{http_code}')
  status=${out##*$'\n'}
  out=${out%$'\n'*}
  [[ $status == 2* ]] || die "$1 $2: HTTP $status $out"
  printf '%s' "$out"
}

# ---------------------------------------------------------------------------------------------------------------
step "3. Database secrets engine: mount, connection, role"
# ---------------------------------------------------------------------------------------------------------------
api POST sys/mounts/database '{"type": "database"}'
# {{username}} and {{password}} stay in the URL as placeholders: the password is stored sealed, never in the URL.
api POST database/config/app-db "{
  \"plugin_name\": \"postgresql-database-plugin\",
  \"connection_url\": \"postgresql://{{username}}:{{password}}@127.0.0.1:$PG_PORT/app\",
  \"username\": \"sealbox_broker\",
  \"password\": \"$BROKER_DB_PASSWORD\",
  \"allowed_roles\": \"app\"
}"
# Each read of database/creds/app creates a LOGIN role IN ROLE app_readers, valid for an hour (renewable up to a day).
api POST database/roles/app '{"db_name": "app-db", "default_group": "app_readers", "default_ttl": "1h", "max_ttl": "24h"}'
echo "mounted database/, config app-db, role app"

# ---------------------------------------------------------------------------------------------------------------
step "4. AppRole for the application"
# ---------------------------------------------------------------------------------------------------------------
api POST sys/auth/approle '{"type": "approle"}'
# The policy: read the credential, follow the event stream (rotations), renew and revoke its own leases.
api PUT sys/policies/acl/app '{"policy": {"path": {
  "database/creds/app":     {"capabilities": ["read"]},
  "sys/events/subscribe":   {"capabilities": ["read"]},
  "sys/events/subscribe/*": {"capabilities": ["read"]},
  "sys/leases/renew":       {"capabilities": ["update"]},
  "sys/leases/revoke":      {"capabilities": ["update"]}
}}}'
api POST auth/approle/role/app '{"token_policies": ["app"], "token_ttl": "1h", "token_max_ttl": "24h"}'
mkdir -m 700 "$WORK/agent"
api GET auth/approle/role/app/role-id | json data.role_id >"$WORK/agent/role-id"
api POST auth/approle/role/app/secret-id | json data.secret_id >"$WORK/agent/secret-id"
chmod 400 "$WORK/agent/role-id" "$WORK/agent/secret-id"
echo "policy app, role app; role_id and secret_id in $WORK/agent/"

# ---------------------------------------------------------------------------------------------------------------
step "5. The agent: log in, render the credential to $SECRETS/db.env, keep it renewed"
# ---------------------------------------------------------------------------------------------------------------
# The same config format as in a pod (README "The agent"); libpq's PG* variables, so any PostgreSQL client can use the file.
cat >"$WORK/agent/agent.yaml" <<YAML
broker:
  address: "$SEALBOX_ADDR"
auth:
  method: approle
  role_id_file: $WORK/agent/role-id
  secret_id_file: $WORK/agent/secret-id
revoke_on_shutdown: true        # on SIGTERM the agent revokes its lease: the database user is dropped
secrets:
  - path: database/creds/app
    destination: $SECRETS/db.env    # written atomically, mode 0400
    template: |
      PGHOST=127.0.0.1
      PGPORT=$PG_PORT
      PGDATABASE=app
      PGUSER={{env username}}
      PGPASSWORD={{env password}}
YAML
node "$ROOT/agent/bin/sealbox-agent.mjs" --config "$WORK/agent/agent.yaml" >"$WORK/agent.log" 2>&1 &
AGENT_PID=$!
# The file appears whole (temp file + rename), so its existence means the credential is there.
for _ in $(seq 1 600); do
  [[ -f $SECRETS/db.env ]] && break
  kill -0 "$AGENT_PID" 2>/dev/null || die "the agent exited"
  sleep 0.1
done
[[ -f $SECRETS/db.env ]] || die "the agent did not write $SECRETS/db.env within 60 s"
DB_USER=$(sed -n 's/^PGUSER="\{0,1\}\([^"]*\)"\{0,1\}$/\1/p' "$SECRETS/db.env")
echo "agent wrote $SECRETS/db.env ($(stat -c '%A' "$SECRETS/db.env"), database user $DB_USER)"

# ---------------------------------------------------------------------------------------------------------------
step "6. The application: read the file, connect, SELECT"
# ---------------------------------------------------------------------------------------------------------------
node "$ROOT/deploy/quickstart/demo-app.mjs" "$SECRETS/db.env"

# ---------------------------------------------------------------------------------------------------------------
step "7. Stop the agent: it revokes its lease, and the broker drops the database user"
# ---------------------------------------------------------------------------------------------------------------
kill -TERM "$AGENT_PID"
wait "$AGENT_PID" || die "the agent did not exit cleanly"
AGENT_PID=""
user_exists() { [[ $(psql_as_superuser -d app -tA -c "SELECT count(*) FROM pg_roles WHERE rolname = '$DB_USER'") != 0 ]]; }
for _ in $(seq 1 100); do user_exists || break; sleep 0.1; done
user_exists && die "database user $DB_USER still exists after the agent revoked its lease"
echo "database user $DB_USER is gone"

step "quickstart OK: the application read a dynamic database credential from its file and used it"
