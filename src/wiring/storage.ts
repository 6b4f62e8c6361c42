/** Phase 1 of buildApp: the database (PostgreSQL or embedded PGlite), migrations, and every store, each made once. */
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { AppDeps } from '../app.ts';
import type { Config } from '../config.ts';
import type { Logger } from '../lib/log.ts';
import { createTracing, type Tracing } from '../lib/tracing.ts';
import { createAuditReadStore } from '../storage/audit-read-store.ts';
import { createAuditStore } from '../storage/audit-store.ts';
import { createAuditTreeStore } from '../storage/audit-tree-store.ts';
import { createLineageStore } from '../storage/lineage-store.ts';
import { createCoreEntriesStore } from '../storage/core-entries-store.ts';
import type { Db } from '../storage/db.ts';
import { createEntriesStore } from '../storage/entries-store.ts';
import { createKeyringStore } from '../storage/keyring-store.ts';
import { createLeaseIntentsStore } from '../storage/lease-intents-store.ts';
import { createLeaseMetricsStore } from '../storage/lease-metrics-store.ts';
import { createLeaseQuotasStore } from '../storage/lease-quotas-store.ts';
import { createLeasesStore } from '../storage/leases-store.ts';
import { createLockoutStore } from '../storage/lockout-store.ts';
import { migrate } from '../storage/migrate.ts';
import { openingDb } from '../storage/opening-db.ts';
import { createMountsStore } from '../storage/mounts-store.ts';
import { createPasswordPoliciesStore } from '../storage/password-policies-store.ts';
import { createFailoverPgDb } from '../storage/pg-failover.ts';
import { createPgliteDb } from '../storage/pglite-db.ts';
import { createPoliciesStore } from '../storage/policies-store.ts';
import { createQuotasStore } from '../storage/quotas-store.ts';
import { createRotationsStore } from '../storage/rotations-store.ts';
import { createSchedulerStore } from '../storage/scheduler-store.ts';
import { createSealStore } from '../storage/seal-store.ts';
import { createTokensStore } from '../storage/tokens-store.ts';
import { tracedDb } from '../storage/traced-db.ts';
import { createUnsignedRowsStore } from '../storage/unsigned-rows-store.ts';
import type { Lifecycle } from './lifecycle.ts';
import { VERSION } from './version.ts';

const MIGRATIONS = fileURLToPath(new URL('../../migrations/', import.meta.url));

async function openDb(config: Config, log: Logger, embedded?: Promise<Db>): Promise<Db> {
  if (config.database_url) {
    return createFailoverPgDb({
      url: config.database_url,
      maxConnections: config.database_max_connections,
      log,
      stalenessMs: config.database_staleness * 1000,
      connectTimeoutMs: config.database_connect_timeout * 1000,
      queryTimeoutMs: config.database_query_timeout * 1000,
    });
  }
  if (embedded) return embedded;
  // A fresh checkout has no ./.sealbox yet: `npm start` must create it (owner-only: it holds the data).
  await mkdir(join(config.data_dir, 'pglite'), { recursive: true, mode: 0o700 });
  return createPgliteDb(join(config.data_dir, 'pglite'), config.data_dir);
}

const storesOf = (db: Db) => ({
  seal: createSealStore(),
  entries: createEntriesStore(),
  coreEntries: createCoreEntriesStore(),
  lockout: createLockoutStore(),
  tokens: createTokensStore(),
  quotas: createQuotasStore(db),
  policies: createPoliciesStore(),
  passwordPolicies: createPasswordPoliciesStore(),
  mounts: createMountsStore(),
  leases: createLeasesStore(),
  leaseIntents: createLeaseIntentsStore(),
  leaseMetrics: createLeaseMetricsStore(),
  leaseQuotas: createLeaseQuotasStore(db),
  rotations: createRotationsStore(),
  keyring: createKeyringStore(),
  scheduler: createSchedulerStore(),
  audit: createAuditStore(db),
  auditRead: createAuditReadStore(db),
  auditTree: createAuditTreeStore(db),
  lineage: createLineageStore(db),
  unsignedRows: createUnsignedRowsStore(),
});

export interface StorageBundle {
  db: Db;
  /**
   * Resolves with the migrations this process applied (row adoption after 0008 keys on them) once the database is
   * open and migrated. Until then `db` queues its statements: the broker wires itself meanwhile (none of the wiring
   * issues a statement), and buildApp awaits this before anything starts.
   */
  migrated: Promise<string[]>;
  tracing: Tracing;
  storageAvailable(): boolean;
  stores: ReturnType<typeof storesOf>;
}

export async function openStorage({ config, log, embeddedDb }: AppDeps, life: Lifecycle): Promise<StorageBundle> {
  const tracing = await createTracing({ exporter: config.tracing_exporter, endpoint: config.tracing_endpoint, serviceName: 'sealbox', version: VERSION, log });
  life.own('tracing', () => tracing.shutdown());
  const opening = openDb(config, log, embeddedDb);
  const untracedDb = openingDb(config.database_url ? 'postgres' : 'pglite', opening);
  const db = tracing.tracer ? tracedDb(untracedDb, tracing.tracer) : untracedDb;
  life.own('database', () => db.close());
  const migrated = opening.then(async () => {
    const applied = await migrate(db, MIGRATIONS);
    if (applied.length > 0) log.info({ applied }, 'migrations applied');
    return applied;
  });
  migrated.catch(() => undefined); // awaited by buildApp, which reports it
  /** false while the database cannot be reached or is staler than its bound (sys/health answers 503). */
  const storageAvailable = (): boolean => untracedDb.available?.() ?? true;
  return { db, migrated, tracing, storageAvailable, stores: storesOf(db) };
}
