// "Something the tests observe may have changed" (issue 16): one process-wide signal that the waits of the tests
// re-check on, instead of re-checking on a timer. It is raised by what the systems under test do:
//   - a spawned broker writes to stdout/stderr or exits (test/helpers/broker.ts),
//   - an in-process broker logs a line (test/helpers/app.ts),
//   - an agent prints something, or a file changes in a watched directory (agent/test/helpers.ts, watchDir),
//   - a chunk arrives on an SSE stream (test/helpers/sse.ts),
//   - a NOTIFY arrives on a storage database a test listens to (listenActivity).
// A wait registered here costs nothing between two signals: no timer, no query.
import { EventEmitter } from 'node:events';
import fs from 'node:fs';
import pg from 'pg';

const bus = new EventEmitter();
bus.setMaxListeners(0);

/** Raise the signal: every pending wait re-checks its condition. */
export function stir(): void {
  bus.emit('activity');
}

/** Calls `fn` on each signal until the returned function is called. */
export function onActivity(fn: () => void): () => void {
  bus.on('activity', fn);
  return () => bus.off('activity', fn);
}

/** Raises the signal whenever something in `dir` changes (files written, renamed, removed). */
export function watchDir(dir: string): () => void {
  const watcher = fs.watch(dir, stir);
  watcher.on('error', () => watcher.close());
  watcher.unref();
  return () => watcher.close();
}

/**
 * LISTENs on `channels` of a database (e.g. the brokers' storage database, whose cache channels the brokers NOTIFY
 * on every change) and raises the signal on each notification. Resolves with a function that stops listening.
 */
export async function listenActivity(url: string, channels: readonly string[]): Promise<() => Promise<void>> {
  const client = new pg.Client({ connectionString: url });
  client.on('error', () => {});
  client.on('notification', stir);
  await client.connect();
  for (const c of channels) await client.query(`LISTEN ${pg.escapeIdentifier(c)}`);
  return () => client.end().catch(() => undefined);
}

/**
 * Raises the signal whenever a row of `table` (in the database at `url`) is inserted, updated or deleted: installs a
 * trigger that NOTIFYs `sealbox_test_<table>` (it changes no row) and listens to it. For state the broker keeps in a
 * table without logging it, e.g. job_runs. Resolves with a function that stops listening (the trigger stays).
 */
export async function watchTable(url: string, table: string): Promise<() => Promise<void>> {
  const channel = `sealbox_test_${table}`;
  const fn = pg.escapeIdentifier(`${channel}_notify`);
  const client = new pg.Client({ connectionString: url });
  client.on('error', () => {});
  await client.connect();
  try {
    // Tests of one file may install it at once: one at a time.
    await client.query('BEGIN');
    await client.query('SELECT pg_advisory_xact_lock(hashtext($1))', [channel]);
    await client.query(`CREATE OR REPLACE FUNCTION ${fn}() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN PERFORM pg_notify(${pg.escapeLiteral(channel)}, ''); RETURN NULL; END $$`);
    await client.query(`CREATE OR REPLACE TRIGGER ${pg.escapeIdentifier(channel)} AFTER INSERT OR UPDATE OR DELETE ON ${pg.escapeIdentifier(table)} FOR EACH ROW EXECUTE FUNCTION ${fn}()`);
    await client.query('COMMIT');
  } finally {
    await client.end().catch(() => undefined);
  }
  return listenActivity(url, [channel]);
}
