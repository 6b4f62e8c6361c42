/**
 * The embedded PGlite database in a worker thread (pglite-thread-db.ts is the broker's side). PostgreSQL's start in
 * WASM takes about half a second of CPU; in a thread it runs on the second core while the broker's main thread loads
 * its modules and wires itself (issue 17: start-up on an existing data directory).
 *
 * The protocol is one request message per statement, answered by a message with the same id. A transaction is opened
 * by `begin` and held open inside PGlite's own `transaction()` until `end` arrives, so PGlite's queueing is unchanged:
 * a statement outside the transaction waits until it ends, exactly as in-thread.
 */
import { readFile } from 'node:fs/promises';
import { parentPort, workerData } from 'node:worker_threads';
import { PGlite, type PGliteOptions, type Transaction } from '@electric-sql/pglite';
import { startupMark } from '../lib/startup-trace.ts';
import { seedFromTemplate } from './pglite-template.ts';
import { errorToWire, type Reply, type Request } from './pglite-wire.ts';

if (!parentPort) throw new Error('pglite-worker.ts runs as a worker thread');
const port = parentPort;
type WasmModule = NonNullable<PGliteOptions['pgliteWasmModule']>;
// (The project's TypeScript lib has no DOM or WebAssembly declarations.)
const wasmApi = (globalThis as unknown as { WebAssembly: { compile(bytes: Uint8Array): Promise<WasmModule> } }).WebAssembly;

const txs = new Map<number, { t: Transaction; end: (commit: boolean) => void }>();
const ROLLBACK = Symbol('rollback');

const send = (r: Reply): void => port.postMessage(r);

/**
 * The data directory: given at spawn, or (a worker `bin/sealbox.mjs` started before the configuration was read) in
 * the first message. Such a worker has PGlite's module loaded and its WASM compiled by then.
 */
async function dataDir(): Promise<string> {
  const given = (workerData as { dir?: unknown } | null)?.dir;
  if (typeof given === 'string') return given;
  return new Promise((resolve) => port.once('message', (m: Request) => resolve(m.op === 'open' ? m.dir : '')));
}

async function open(): Promise<PGlite> {
  const wasm = readFile(new URL('./pglite.wasm', import.meta.resolve('@electric-sql/pglite'))).then((b) => wasmApi.compile(b));
  void wasm.then(() => startupMark('PGlite thread: WASM compiled'));
  const dir = await dataDir();
  startupMark('PGlite thread: data directory named');
  // A new directory starts as a copy of the build-time template instead of running initdb in WASM (seconds).
  await seedFromTemplate(dir);
  const db = await PGlite.create(dir, { pgliteWasmModule: await wasm });
  startupMark('PGlite thread: open');
  return db;
}

const ready = open();
ready.then(
  () => send({ id: 0, ok: true }),
  (err: unknown) => send({ id: 0, ok: false, error: errorToWire(err) }),
);

function begin(db: PGlite, id: number): void {
  let begun = false;
  db.transaction(
    (t) =>
      new Promise<void>((resolve, reject) => {
        begun = true;
        txs.set(id, { t, end: (commit) => (commit ? resolve() : reject(ROLLBACK)) });
        send({ id, ok: true });
      }),
  ).then(
    () => send({ id, ok: true, ended: true }),
    (err: unknown) => {
      // A rollback the caller asked for is not an error; a failed BEGIN or COMMIT is.
      if (err === ROLLBACK) send({ id, ok: true, ended: true });
      else send({ id, ok: false, ended: begun, error: errorToWire(err) });
    },
  ).finally(() => txs.delete(id));
}

async function handle(db: PGlite, m: Request): Promise<void> {
  switch (m.op) {
    case 'query': {
      const q = m.tx === undefined ? db : txs.get(m.tx)?.t;
      if (!q) throw new Error('the transaction has ended');
      const r = await q.query(m.sql, m.params as unknown[] | undefined);
      send({ id: m.id, ok: true, rows: r.rows, rowCount: r.affectedRows ?? r.rows.length });
      return;
    }
    case 'exec': {
      const q = m.tx === undefined ? db : txs.get(m.tx)?.t;
      if (!q) throw new Error('the transaction has ended');
      await q.exec(m.sql);
      send({ id: m.id, ok: true });
      return;
    }
    case 'begin':
      begin(db, m.id);
      return;
    case 'end':
      txs.get(m.tx)?.end(m.commit);
      return;
    case 'listen':
      await db.listen(m.channel, (payload) => port.postMessage({ notify: m.channel, payload }));
      send({ id: m.id, ok: true });
      return;
    case 'open':
      return; // consumed by dataDir()
    case 'close':
      await db.close();
      send({ id: m.id, ok: true });
      port.close();
      return;
  }
}

port.on('message', (m: Request) => {
  void ready
    .then((db) => handle(db, m))
    .catch((err: unknown) => {
      if (m.op !== 'end' && m.op !== 'begin') send({ id: m.id, ok: false, error: errorToWire(err) });
    });
});
