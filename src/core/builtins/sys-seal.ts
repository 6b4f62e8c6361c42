import { z } from 'zod';
import type { Clock } from '../../lib/clock.ts';
import { badRequest } from '../../lib/errors.ts';
import type { Queryable } from '../../storage/db.ts';
import { op, type PathDef } from '../engine.ts';
import type { SealManager, SealStatus } from '../seal/seal-manager.ts';

export interface SysSealDeps {
  seal: SealManager;
  clock: Clock;
  version: string;
  clusterName: string;
  /** Creates the initial root token inside the initialising transaction; returns its value. */
  createRootToken: (q: Queryable, rootKey: Buffer) => Promise<string>;
  /** The configured key of a static seal (the root key is then not random and no shares are made). */
  staticRootKey?: Buffer;
  /** Static seals unseal right after init; shamir seals stay sealed until the shares arrive. */
  afterInitialize: (rootKey: Buffer) => Promise<void>;
  /** Runs after sys/seal (event streams end: nothing can be checked against a sealed barrier). */
  afterSeal?: () => void;
  /**
   * False while storage is unreachable: health answers as if sealed (503, or `sealedcode`) so that load balancers and
   * readiness probes drain this broker while a liveness probe that accepts sealed brokers does not restart it (issue 21).
   */
  storageAvailable?: () => boolean;
}

const statusCode = z
  .union([z.string(), z.number()])
  .transform(Number)
  .pipe(z.number().int().min(200).max(599))
  .optional();

const pgpKeys = z.array(z.string().max(65_536), { error: 'must be a list of PGP public keys' }).max(64).nullable().optional();

const sealStatusWire = (s: SealStatus, version: string, clusterName: string) => ({
  type: s.type,
  initialized: s.initialized,
  sealed: s.sealed,
  t: s.t,
  n: s.n,
  progress: s.progress,
  nonce: s.nonce,
  version,
  build_date: '',
  migration: false,
  cluster_name: s.initialized ? clusterName : '',
  recovery_seal: false,
  storage_type: 'postgresql',
});

/** sys/health, sys/seal-status, sys/init, sys/unseal and sys/seal, with Vault's flat (un-enveloped) bodies. */
export function sysSealPaths(deps: SysSealDeps): PathDef[] {
  const health = op(
    z.object({ sealedcode: statusCode, uninitcode: statusCode, activecode: statusCode, standbyok: z.string().optional() }),
    async ({ input }) => {
      const s = await deps.seal.status();
      const storageDown = deps.storageAvailable?.() === false;
      const status = !s.initialized ? (input.uninitcode ?? 501) : s.sealed || storageDown ? (input.sealedcode ?? 503) : (input.activecode ?? 200);
      return {
        raw: { status },
        data: {
          initialized: s.initialized,
          sealed: s.sealed,
          standby: false,
          performance_standby: false,
          replication_performance_mode: 'disabled',
          replication_dr_mode: 'disabled',
          server_time_utc: Math.floor(deps.clock.now().getTime() / 1000),
          version: deps.version,
          cluster_name: deps.clusterName,
        },
      };
    },
  );
  const sealStatus = op(z.object({}), async () => ({
    raw: { status: 200 },
    data: sealStatusWire(await deps.seal.status(), deps.version, deps.clusterName),
  }));
  const leader = op(z.object({}), async () => ({
    raw: { status: 200 },
    data: {
      ha_enabled: false,
      is_self: true,
      leader_address: '',
      leader_cluster_address: '',
      performance_standby: false,
      raft_committed_index: 0,
    },
  }));
  return [
    { pattern: 'health', unauthenticated: true, whileSealed: true, operations: { read: health } },
    { pattern: 'seal-status', unauthenticated: true, whileSealed: true, operations: { read: sealStatus } },
    // Replicas share PostgreSQL and each serves every request (no leader election): every unsealed node is "the leader".
    { pattern: 'leader', unauthenticated: true, operations: { read: leader } },
    {
      pattern: 'init',
      unauthenticated: true,
      whileSealed: true,
      operations: {
        read: op(z.object({}), async () => ({ raw: { status: 200 }, data: { initialized: await deps.seal.isInitialized() } })),
        update: op(
          z.object({
            secret_shares: z.number().int().optional(),
            secret_threshold: z.number().int().optional(),
            // Vault's Go client always sends these, empty ("pgp_keys":null,"root_token_pgp_key":""); only a real key is refused.
            pgp_keys: pgpKeys,
            recovery_pgp_keys: pgpKeys,
            root_token_pgp_key: z.string().max(65_536).nullable().optional(),
            // Auto-unseal (recovery key) settings Vault clients send; sealbox has no recovery keys, so they are ignored.
            recovery_shares: z.number().int().min(0).optional(),
            recovery_threshold: z.number().int().min(0).optional(),
            stored_shares: z.number().int().min(0).optional(),
          }),
          async ({ input }) => {
            if ((input.pgp_keys ?? []).length > 0 || (input.recovery_pgp_keys ?? []).length > 0 || input.root_token_pgp_key) {
              throw badRequest('PGP-encrypted key shares are not supported');
            }
            if (await deps.seal.isInitialized()) throw badRequest('sealbox is already initialized');
            let rootToken = '';
            const result = await deps.seal.initialize(
              deps.staticRootKey
                ? { shares: 0, threshold: 0, rootKey: deps.staticRootKey }
                : { shares: input.secret_shares ?? 1, threshold: input.secret_threshold ?? 1 },
              async (q, rootKey) => {
                rootToken = await deps.createRootToken(q, rootKey);
              },
            );
            if (!result) throw badRequest('sealbox is already initialized');
            await deps.afterInitialize(result.rootKey);
            result.rootKey.fill(0);
            return {
              raw: { status: 200 },
              data: {
                keys: result.keys.map((k) => k.toString('hex')),
                keys_base64: result.keys.map((k) => k.toString('base64')),
                root_token: rootToken,
              },
            };
          },
        ),
      },
    },
    {
      pattern: 'unseal',
      unauthenticated: true,
      whileSealed: true,
      operations: {
        update: op(
          z.object({ key: z.string().max(1024).optional(), reset: z.boolean().optional(), migrate: z.boolean().optional() }),
          async ({ input }) => {
            if (input.reset) deps.seal.resetProgress();
            else if (!input.key) throw badRequest('key: missing (or set reset=true)');
            const s = input.key && !input.reset ? await deps.seal.submitKey(input.key) : await deps.seal.status();
            return { raw: { status: 200 }, data: sealStatusWire(s, deps.version, deps.clusterName) };
          },
        ),
      },
    },
    {
      pattern: 'seal',
      sudo: true,
      operations: {
        update: op(z.object({}), async () => {
          deps.seal.seal();
          deps.afterSeal?.();
          return {};
        }),
      },
    },
  ];
}
