import { combine, split } from 'shamir-secret-sharing';
import { zero } from '../../lib/crypto.ts';
import { AppError, badRequest } from '../../lib/errors.ts';
import type { Random } from '../../lib/random.ts';
import type { Db, Queryable } from '../../storage/db.ts';
import type { SealStore } from '../../storage/seal-store.ts';
import type { Barrier } from '../barrier/barrier.ts';
import type { RowMac } from '../integrity/row-mac.ts';
import { sealConfigFields } from '../integrity/rows.ts';

export type SealType = 'shamir' | 'static';

export interface SealStatus {
  type: SealType;
  initialized: boolean;
  sealed: boolean;
  t: number;
  n: number;
  progress: number;
  nonce: string;
}

export interface InitResult {
  /** Unseal key shares (shamir), or empty for a static seal. Handed to the caller once, never stored. */
  keys: Buffer[];
  rootKey: Buffer;
}

export interface SealManagerDeps {
  db: Db;
  sealStore: SealStore;
  barrier: Barrier;
  random: Random;
  sealType: SealType;
  rowMac: RowMac;
}

export const decodeKey = (key: string): Buffer => {
  const s = key.trim();
  const buf = /^[0-9a-fA-F]+$/.test(s) && s.length % 2 === 0 ? Buffer.from(s, 'hex') : Buffer.from(s, 'base64');
  if (buf.length < 32 || buf.length > 64) throw badRequest('key: not a valid unseal key (expected hex or base64)');
  return buf;
};

/** Initialisation and the seal/unseal state machine (Vault's sys/init, sys/unseal, sys/seal). */
export function createSealManager(deps: SealManagerDeps) {
  let config: { shares: number; threshold: number } | null = null;
  let pending: Buffer[] = [];
  let nonce = '';

  const loadConfig = async (): Promise<typeof config> => {
    if (!config) {
      const row = await deps.sealStore.getConfig(deps.db);
      if (row) config = { shares: row.secretShares, threshold: row.secretThreshold };
    }
    return config;
  };

  const resetProgress = (): void => {
    for (const k of pending) zero(k);
    pending = [];
    nonce = '';
  };

  const status = async (): Promise<SealStatus> => {
    const c = await loadConfig();
    return {
      type: deps.sealType,
      initialized: c !== null,
      sealed: deps.barrier.isSealed(),
      t: c?.threshold ?? 0,
      n: c?.shares ?? 0,
      progress: pending.length,
      nonce,
    };
  };

  return {
    status,
    isInitialized: async (): Promise<boolean> => (await loadConfig()) !== null,

    /**
     * Creates the root key and keyring. With `rootKey` given (static and dev seals) that key is used.
     * Returns null if another process initialised the store first.
     */
    async initialize(
      opts: { shares: number; threshold: number; rootKey?: Buffer },
      /** Runs inside the initialising transaction, after the keyring is written (root token, dev mounts). */
      onInitialize: (q: Queryable, rootKey: Buffer) => Promise<void>,
    ): Promise<InitResult | null> {
      const { shares, threshold } = opts;
      if (deps.sealType === 'shamir') {
        if (!Number.isInteger(shares) || shares < 1 || shares > 255) throw badRequest('secret_shares: must be between 1 and 255');
        if (!Number.isInteger(threshold) || threshold < 1 || threshold > shares)
          throw badRequest('secret_threshold: must be between 1 and secret_shares');
        if (shares > 1 && threshold < 2) throw badRequest('secret_threshold: must be at least 2 when secret_shares is more than 1');
      }
      const rootKey = opts.rootKey ? Buffer.from(opts.rootKey) : Buffer.from(deps.random.bytes(32));
      // Split before committing: a failure after the commit would leave storage that nobody can unseal.
      let keys: Buffer[] = [];
      if (deps.sealType === 'shamir') {
        keys = shares === 1 ? [Buffer.from(rootKey)] : (await split(new Uint8Array(rootKey), shares, threshold)).map((k) => Buffer.from(k));
      }
      const done = await deps.db.tx(async (q) => {
        await deps.sealStore.lockInit(q);
        if (await deps.sealStore.getConfig(q)) return false;
        const sealConfig = { sealType: deps.sealType, secretShares: shares, secretThreshold: threshold };
        await deps.sealStore.insertConfig(q, { ...sealConfig, mac: deps.rowMac.sign('seal_configs', sealConfigFields(sealConfig), rootKey) });
        await deps.barrier.writeInitialKeyring(q, rootKey);
        await onInitialize(q, rootKey);
        return true;
      });
      if (!done) {
        zero(rootKey);
        for (const k of keys) zero(k);
        return null;
      }
      config = { shares, threshold };
      return { keys, rootKey };
    },

    /** Adds one unseal key share; unseals once the threshold is reached. */
    async submitKey(key: string): Promise<SealStatus> {
      const c = await loadConfig();
      if (!c) throw new AppError('bad_request', 'sealbox is not initialized');
      if (!deps.barrier.isSealed()) return status();
      const share = decodeKey(key);
      if (pending.some((p) => p.equals(share))) throw badRequest('key: this unseal key share was already provided');
      if (pending.length === 0) nonce = deps.random.uuid();
      pending.push(share);
      if (pending.length < c.threshold) return status();
      const shares = pending;
      pending = [];
      nonce = '';
      let rootKey: Buffer | null = null;
      try {
        rootKey = c.threshold === 1 ? Buffer.from(shares[0] ?? []) : Buffer.from(await combine(shares.map((k) => new Uint8Array(k))));
        await deps.barrier.unseal(rootKey);
      } catch (err) {
        if (err instanceof AppError) throw err;
        throw badRequest('key: the unseal key shares do not combine into a valid key');
      } finally {
        zero(rootKey);
        for (const k of shares) zero(k);
      }
      return status();
    },

    /** Unseals directly with the root key (static and dev seals). */
    async unsealWithRootKey(rootKey: Buffer): Promise<void> {
      await deps.barrier.unseal(rootKey);
    },

    resetProgress,

    /** Once unsealed (the unseal hook): the stored seal configuration must carry its MAC, or the unseal fails. */
    async checkConfig(): Promise<void> {
      const row = await deps.sealStore.getConfig(deps.db);
      if (row) deps.rowMac.verify('seal_configs', sealConfigFields(row), row.mac ?? null, 'id=1');
    },

    seal(): void {
      resetProgress();
      deps.barrier.seal();
    },
  };
}

export type SealManager = ReturnType<typeof createSealManager>;
