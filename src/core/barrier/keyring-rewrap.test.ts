// The keyring rewrap re-wraps DEKs without opening the values (issue 18 item 5): what it writes must open exactly
// when the original did, so a database writer who swaps DEK heads between rows, copies a row, or changes a value's
// ciphertext (before or after the rewrap) is refused on the next read, and a forged head is never carried forward.
// On both stores: the embedded PGlite and a throwaway PostgreSQL (the job's SQL is the same on each).
import test from 'ava';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { randomUUID } from 'node:crypto';
import { systemClock } from '../../lib/clock.ts';
import { createLogger } from '../../lib/log.ts';
import { systemRandom } from '../../lib/random.ts';
import type { Db } from '../../storage/db.ts';
import { createEntriesStore } from '../../storage/entries-store.ts';
import { createKeyringStore } from '../../storage/keyring-store.ts';
import { migrate } from '../../storage/migrate.ts';
import { createPgDb } from '../../storage/pg-db.ts';
import { createPgliteDb } from '../../storage/pglite-db.ts';
import { createSealStore } from '../../storage/seal-store.ts';
import { startPostgres, stopPostgres } from '../../../test/helpers/postgres.ts';
import { createBarrier } from './barrier.ts';
import { createEngineStorage } from './entry-storage.ts';
import { DEK_HEAD_BYTES, isIntegrityError } from './envelope.ts';
import { createKeyringRewrap } from './keyring-rewrap.ts';

const log = createLogger({ level: 'silent' });
const H = DEK_HEAD_BYTES;

test.after.always(() => stopPostgres());

async function openDb(kind: 'pglite' | 'pg'): Promise<Db> {
  if (kind === 'pglite') {
    const dir = mkdtempSync(join(tmpdir(), 'rewrap-test-'));
    return createPgliteDb(join(dir, 'pglite'), dir);
  }
  return createPgDb({ url: await (await startPostgres()).createDatabase(), maxConnections: 2, log });
}

for (const kind of ['pglite', 'pg'] as const) {
  test(`${kind}: rewrapped entries read back; swapped DEK heads, copied rows and changed values are refused on read`, async (t) => {
    const db = await openDb(kind);
    t.teardown(() => db.close());
    await migrate(db, fileURLToPath(new URL('../../../migrations/', import.meta.url)));
    const barrier = createBarrier({ db, sealStore: createSealStore(), random: systemRandom, clock: systemClock });
    const rootKey = systemRandom.bytes(32);
    await db.tx((q) => barrier.writeInitialKeyring(q, rootKey));
    await barrier.unseal(rootKey);
    const mountId = randomUUID();
    await db.query(`INSERT INTO mounts (id, path, class, type) VALUES ($1, 'kv/', 'secret', 'kv')`, [mountId]);
    const storage = createEngineStorage({ db, entries: createEntriesStore(), barrier, mountId });
    const keys = ['a', 'b', 'c', 'd', 'e', 'forged', ...Array.from({ length: 30 }, (_, i) => `many/${i}`)];
    for (const k of keys) await storage.put(k, Buffer.from(`value of ${k}`));
    const sql = (text: string, params: unknown[] = []) => db.query(text, [mountId, ...params]);
    const sealedOf = async (k: string): Promise<Buffer> =>
      Buffer.from((await sql('SELECT sealed FROM entries WHERE mount_id = $1 AND key = $2', [k])).rows[0]?.sealed as Uint8Array);
    const setSealed = (k: string, sealed: Buffer) => sql('UPDATE entries SET sealed = $3 WHERE mount_id = $1 AND key = $2', [k, sealed]);
    const refused = async (k: string): Promise<boolean> => {
      const err = await t.throwsAsync(storage.get(k));
      return isIntegrityError(err);
    };

    // Before the rewrap: c gets d's DEK head with its own value; e becomes a copy of a's whole envelope; the forged
    // row gets a head no KEK made (a valid format, random bytes).
    const [a1, c1, d1] = [await sealedOf('a'), await sealedOf('c'), await sealedOf('d')];
    await setSealed('c', Buffer.concat([d1.subarray(0, H), c1.subarray(H)]));
    await setSealed('e', a1);
    const forged = Buffer.from(await sealedOf('forged'));
    forged.set(systemRandom.bytes(H - 5), 5);
    await setSealed('forged', forged);

    await barrier.rotate();
    const rewrap = createKeyringRewrap({ db, store: createKeyringStore(), barrier, clock: systemClock, log, batch: 7 });
    t.is(await rewrap.run(0), keys.length - 1, 'every row whose DEK opens is moved, in batches of 7');
    const terms = new Map((await sql('SELECT key, key_term FROM entries WHERE mount_id = $1')).rows.map((r) => [r.key as string, r.key_term as number]));
    for (const k of keys) t.is(terms.get(k), k === 'forged' ? 1 : 2, k);
    t.true((await sealedOf('forged')).equals(forged), 'the forged row is left as it was');
    t.is((await rewrap.status()).pendingValues, 1);

    // The rewrap rewrote the head only: the value ciphertext is the same bytes, the head is new.
    const a2 = await sealedOf('a');
    t.true(a2.subarray(H).equals(a1.subarray(H)));
    t.false(a2.subarray(0, H).equals(a1.subarray(0, H)));
    t.is(a2.readUInt32BE(1), 2);
    for (const k of ['a', 'b', 'd', 'many/0', 'many/29']) t.is((await storage.get(k))?.toString(), `value of ${k}`, k);

    // What the writer did before the rewrap is still refused after it, never answered with another row's value.
    t.true(await refused('c'), 'a value under another row\'s DEK');
    t.true(await refused('e'), 'a copy of another row\'s envelope');
    t.true(await refused('forged'));

    // After the rewrap: swap the (new) DEK heads of a and b, then change one byte of d's value ciphertext.
    const [a3, b3, d3] = [await sealedOf('a'), await sealedOf('b'), await sealedOf('d')];
    await setSealed('a', Buffer.concat([b3.subarray(0, H), a3.subarray(H)]));
    await setSealed('b', Buffer.concat([a3.subarray(0, H), b3.subarray(H)]));
    const d4 = Buffer.from(d3);
    d4[d4.length - 1] = (d4[d4.length - 1] ?? 0) ^ 1;
    await setSealed('d', d4);
    t.true(await refused('a'), 'a rewrapped value under b\'s DEK head');
    t.true(await refused('b'), 'a rewrapped value under a\'s DEK head');
    t.true(await refused('d'), 'a rewrapped value whose ciphertext changed');
    // Restored, they open again: the refusals came from the changes alone.
    await setSealed('a', a3);
    await setSealed('d', d3);
    t.is((await storage.get('a'))?.toString(), 'value of a');
    t.is((await storage.get('d'))?.toString(), 'value of d');

    // A second rotation moves them again (the already-moved rows are not touched twice in one run).
    await barrier.rotate();
    t.is(await rewrap.run(0), keys.length - 1);
    t.is((await storage.get('many/7'))?.toString(), 'value of many/7');
    barrier.seal();
  });
}
