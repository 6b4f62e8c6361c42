// The quickstart's "application": it knows nothing about sealbox. It reads the database credential that the agent
// rendered into an env file (on tmpfs), connects with it and runs a SELECT. It never prints the password.
//
//   node deploy/quickstart/demo-app.mjs /dev/shm/…/db.env
import { readFileSync } from 'node:fs';
import pg from 'pg';

const file = process.argv[2];
if (!file) {
  console.error('usage: demo-app.mjs ENV_FILE');
  process.exit(1);
}

/** KEY=value or KEY="value" lines, as the agent's {{env field}} helper writes them (\ " $ ` and \n escaped). */
function readEnvFile(path) {
  const env = {};
  for (const line of readFileSync(path, 'utf8').split('\n')) {
    const m = /^([A-Z_][A-Z0-9_]*)=(.*)$/.exec(line.trim());
    if (!m) continue;
    let value = m[2];
    if (value.startsWith('"') && value.endsWith('"')) {
      value = value.slice(1, -1).replace(/\\(.)/g, (_, c) => (c === 'n' ? '\n' : c === 'r' ? '\r' : c));
    }
    env[m[1]] = value;
  }
  return env;
}

const env = readEnvFile(file);
const client = new pg.Client({
  host: env.PGHOST,
  port: Number(env.PGPORT),
  database: env.PGDATABASE,
  user: env.PGUSER,
  password: env.PGPASSWORD,
});
try {
  await client.connect();
  const { rows } = await client.query('SELECT current_user AS who, message FROM greetings ORDER BY id');
  for (const row of rows) console.log(`app: ${row.who} read: ${row.message}`);
  console.log(`app: OK, connected as ${env.PGUSER} with the credential from ${file} and read ${rows.length} row(s)`);
} catch (err) {
  console.error(`app: FAILED: ${err.message}`);
  process.exitCode = 1;
} finally {
  await client.end().catch(() => {});
}
