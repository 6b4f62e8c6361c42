// What bench/lease-scale and bench/lease-expiry need to insert lease rows straight into a dev broker's storage, the
// way the broker writes them: its barrier (unsealed with the dev unseal key of its data directory), its row MACs, and
// the mount id and `internal` shape of one real lease it minted.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createBarrier } from '../src/core/barrier/barrier.ts';
import { CONTEXTS } from '../src/core/barrier/contexts.ts';
import { createRowMac } from '../src/core/integrity/row-mac.ts';
import { systemClock } from '../src/lib/clock.ts';
import { createLogger } from '../src/lib/log.ts';
import { systemRandom } from '../src/lib/random.ts';
import { createPgDb } from '../src/storage/pg-db.ts';
import { createSealStore } from '../src/storage/seal-store.ts';

export async function openLeaseRows(brokerUrl: string, dataDir: string, sampleLeaseId: string) {
  const db = createPgDb({ url: brokerUrl, maxConnections: 4, log: createLogger({ level: 'warn' }) });
  const barrier = createBarrier({ db, sealStore: createSealStore(), random: systemRandom, clock: systemClock });
  const creds = JSON.parse(readFileSync(join(dataDir, 'dev-credentials.json'), 'utf8')) as { unseal_key: string };
  await barrier.unseal(Buffer.from(creds.unseal_key, 'base64'));
  const sample = (await db.query<{ mount_id: string; internal: Buffer }>('SELECT mount_id, internal FROM leases WHERE id = $1', [sampleLeaseId])).rows[0];
  if (!sample) throw new Error('the minted lease is not in the leases table');
  // The rows are signed as the broker signs them (issue 13): it refuses to act on a lease row without a valid MAC.
  const rowMac = createRowMac({ deriveKey: (purpose) => barrier.deriveKey(purpose), log: createLogger({ level: 'warn' }), enabled: true });
  const internal = JSON.parse((await barrier.decrypt(CONTEXTS.leases(sampleLeaseId), sample.internal)).toString('utf8')) as Record<string, unknown>;
  return { db, barrier, rowMac, mountId: sample.mount_id, internal };
}
