import { deriveKey as hkdf, zero } from '../../lib/crypto.ts';
import { AppError } from '../../lib/errors.ts';
import type { Random } from '../../lib/random.ts';
import type { Db, Queryable } from '../../storage/db.ts';
import type { SealStore } from '../../storage/seal-store.ts';
import type { Clock } from '../../lib/clock.ts';
import type { EncryptionContext } from './contexts.ts';
import { dekHeadTerm, envelopeTerm, openEnvelope, openKek, rewrapDekHeads, sealEnvelope, sealKek, type DekCache } from './envelope.ts';

export interface SealedValue {
  sealed: Buffer;
  term: number;
}

export interface KeyStatus {
  term: number;
  installTime: Date;
}

export interface Barrier {
  isSealed(): boolean;
  /** Writes term 1 of a new keyring, sealed by rootKey, inside the caller's transaction. */
  writeInitialKeyring(q: Queryable, rootKey: Uint8Array): Promise<void>;
  /** Loads and opens the keyring with rootKey; throws a 400 if the key is wrong. */
  unseal(rootKey: Uint8Array): Promise<void>;
  /** Forgets all key material. */
  seal(): void;
  encrypt(ctx: EncryptionContext, plaintext: Uint8Array): SealedValue;
  /** `q`: the caller's transaction, if any, so that a keyring reload never waits for a second pool connection. */
  decrypt(ctx: EncryptionContext, sealed: Uint8Array, q?: Queryable): Promise<Buffer>;
  /** Adds a keyring term; new writes use it, old terms keep decrypting. */
  rotate(): Promise<KeyStatus>;
  /**
   * Keyring rewrap of a batch of DEK heads (envelope.ts, the first DEK_HEAD_BYTES of each envelope): each with its DEK
   * wrapped by the current term's KEK instead of an older one; the caller keeps the rest of each envelope, so the
   * value's ciphertext (and its context binding) is unchanged. The values are not opened: every read checks them
   * (SECURITY.md, "Key hierarchy"). Null for a head already at the current term or newer (nothing to do) or whose DEK
   * does not open (damaged, forged, or an unknown term): `failed` counts those.
   */
  rewrapDeks(heads: readonly Uint8Array[], q?: Queryable): Promise<{ heads: (Buffer | null)[]; term: number; failed: number }>;
  /** Deletes an old term's KEK (inside the caller's transaction) and forgets it; never the current term. */
  retire(term: number, q: Queryable): Promise<boolean>;
  keyStatus(): KeyStatus;
  /** Re-reads the keyring (another replica rotated). No-op while sealed. */
  refresh(): Promise<void>;
  /** Called after this process adds a term, so that other replicas can refresh. */
  onRotate?: () => Promise<void>;
  /**
   * Runs after every unseal, before it returns (row integrity: adopt, check and reload what needs the root key).
   * If it throws, the barrier seals again and the unseal fails.
   */
  onUnseal?: () => Promise<void>;
  /** An HKDF sub-key of the root key for one purpose. Throws 503 while sealed. */
  deriveKey(purpose: string): Buffer;
}

export interface BarrierDeps {
  db: Db;
  sealStore: SealStore;
  random: Random;
  /** A new term's install time (stored with it, so every replica reports the same one). */
  clock: Clock;
}

interface Unsealed {
  rootKey: Buffer;
  keks: Map<number, Buffer>;
  deks: DekCache;
  current: KeyStatus;
  derived: Map<string, Buffer>;
}

const sealedError = (): AppError => new AppError('sealed', 'sealbox is sealed');

/** The only holder of key material (DESIGN §2). */
export function createBarrier(deps: BarrierDeps): Barrier {
  const randomBytes = (n: number): Uint8Array => deps.random.bytes(n);
  let state: Unsealed | null = null;

  const need = (): Unsealed => {
    if (!state) throw sealedError();
    return state;
  };

  const loadKeyring = async (rootKey: Buffer, q?: Queryable): Promise<Omit<Unsealed, 'rootKey' | 'derived' | 'deks'>> => {
    const rows = await deps.sealStore.listTerms(q ?? deps.db);
    const last = rows.at(-1);
    if (!last) throw new AppError('uninitialized', 'sealbox is not initialized');
    const keks = new Map<number, Buffer>();
    for (const row of rows) {
      try {
        keks.set(row.term, openKek(rootKey, row.term, row.sealedKey));
      } catch {
        for (const k of keks.values()) zero(k);
        throw new AppError('bad_request', 'unseal key is not valid for this storage');
      }
    }
    return { keks, current: { term: last.term, installTime: last.createdAt } };
  };

  const merge = async (s: Unsealed, q?: Queryable): Promise<void> => {
    const fresh = await loadKeyring(s.rootKey, q);
    if (state !== s) {
      // Sealed while loading: the fresh keys belong to nobody.
      for (const k of fresh.keks.values()) zero(k);
      throw sealedError();
    }
    for (const [t, k] of fresh.keks) {
      if (s.keks.has(t)) zero(k);
      else s.keks.set(t, k);
    }
    // A term retired (by another replica) is forgotten here too.
    for (const [t, k] of s.keks) {
      if (!fresh.keks.has(t) && t < fresh.current.term) {
        zero(k);
        s.keks.delete(t);
      }
    }
    if (fresh.current.term > s.current.term) s.current = fresh.current;
  };

  /** A term's KEK; one keyring reload if it is not known here (another replica rotated). */
  const knownKek = async (s: Unsealed, term: number, q?: Queryable): Promise<Buffer | undefined> => {
    const kek = s.keks.get(term);
    if (kek) return kek;
    await merge(s, q);
    return s.keks.get(term);
  };

  const kekFor = async (s: Unsealed, term: number, q?: Queryable): Promise<Buffer> => {
    const kek = await knownKek(s, term, q);
    if (!kek) throw new AppError('internal', 'stored value uses an unknown key term');
    return kek;
  };

  const barrier: Barrier = {
    isSealed: () => state === null,
    async writeInitialKeyring(q, rootKey) {
      const kek = Buffer.from(randomBytes(32));
      await deps.sealStore.insertTerm(q, 1, sealKek(rootKey, 1, kek, randomBytes), deps.clock.now());
      zero(kek);
    },
    async unseal(rootKey) {
      if (state) return;
      const key = Buffer.from(rootKey);
      const ring = await loadKeyring(key);
      state = { rootKey: key, ...ring, derived: new Map(), deks: new Map() };
      try {
        await barrier.onUnseal?.();
      } catch (err) {
        barrier.seal();
        throw err;
      }
    },
    seal() {
      if (!state) return;
      zero(state.rootKey);
      for (const k of state.keks.values()) zero(k);
      for (const k of state.derived.values()) zero(k);
      for (const k of state.deks.values()) zero(k);
      state = null;
    },
    encrypt(ctx, plaintext) {
      const s = need();
      const { term } = s.current;
      const kek = s.keks.get(term);
      if (!kek) throw new AppError('internal', 'current key term is missing');
      return { sealed: sealEnvelope(term, kek, ctx, plaintext, randomBytes), term };
    },
    async decrypt(ctx, sealed, q) {
      const s = need();
      const kek = await kekFor(s, envelopeTerm(sealed), q);
      return openEnvelope(kek, ctx, sealed, s.deks);
    },
    async rotate() {
      const s = need();
      const kek = Buffer.from(randomBytes(32));
      for (;;) {
        await merge(s);
        const term = s.current.term + 1;
        const installTime = deps.clock.now();
        const inserted = await deps.db.tx((q) => deps.sealStore.insertTerm(q, term, sealKek(s.rootKey, term, kek, randomBytes), installTime));
        if (state !== s) {
          zero(kek);
          throw sealedError();
        }
        if (inserted) {
          s.keks.set(term, kek);
          s.current = { term, installTime };
          await barrier.onRotate?.();
          return s.current;
        }
      }
    },
    async rewrapDeks(heads, q) {
      const s = need();
      const { term } = s.current;
      const old: number[] = [];
      const terms = new Set<number>();
      let failed = 0;
      heads.forEach((head, i) => {
        const from = dekHeadTerm(head);
        if (from === null) failed++;
        else if (from < term) {
          terms.add(from);
          old.push(i);
        }
      });
      for (const t of terms) await knownKek(s, t, q);
      // The keys are taken only now, after the last await: a seal, or a term retired by a reload, zeroes its key.
      if (state !== s) throw sealedError();
      const kek = s.keks.get(term);
      if (!kek) throw new AppError('internal', 'current key term is missing');
      const moved = rewrapDekHeads(s.keks, term, kek, old.map((i) => heads[i] as Uint8Array), randomBytes);
      const out: (Buffer | null)[] = heads.map(() => null);
      old.forEach((i, j) => {
        const next = moved[j] ?? null;
        if (next) out[i] = next;
        else failed++;
      });
      return { heads: out, term, failed };
    },
    async retire(term, q) {
      const s = need();
      if (term >= s.current.term) throw new AppError('bad_request', `term ${term} is the current key term and cannot be retired`);
      const deleted = await deps.sealStore.deleteTerm(q, term);
      const kek = s.keks.get(term);
      if (kek) {
        zero(kek);
        s.keks.delete(term);
      }
      return deleted;
    },
    async refresh() {
      if (state) await merge(state);
    },
    keyStatus: () => need().current,
    deriveKey(purpose) {
      const s = need();
      let k = s.derived.get(purpose);
      if (!k) {
        k = hkdf(s.rootKey, purpose);
        s.derived.set(purpose, k);
      }
      return k;
    },
  };
  return barrier;
}
