import type { Clock } from '../../lib/clock.ts';
import { deriveKey, hmacSha256 } from '../../lib/crypto.ts';
import { AppError, badRequest } from '../../lib/errors.ts';
import { randomBase62, type Random } from '../../lib/random.ts';
import type { Db, Queryable } from '../../storage/db.ts';
import type { TokenAlias, TokenRow, TokensStore } from '../../storage/tokens-store.ts';
import type { AuthResponse } from '../engine.ts';
import type { Barrier } from '../barrier/barrier.ts';
import type { RowMac } from '../integrity/row-mac.ts';
import { tokenFields, tombstoneFields } from '../integrity/rows.ts';

export type TokenEntry = TokenRow;

/** A new token's value: Vault's service-token shape with sealbox's prefix. */
export const newTokenValue = (random: Random): string => `sbx.${randomBase62(random, 40)}`;

export interface CreateTokenOptions {
  policies: string[];
  /** Seconds; 0 means the default (or, for a root-policy token, no expiry). */
  ttl: number;
  explicitMaxTtl: number;
  period: number;
  numUses: number;
  renewable: boolean;
  displayName: string;
  meta: Record<string, string>;
  orphan: boolean;
  path: string;
  /** Use this exact token value (dev root token only). */
  id?: string;
  /** The creator holds sudo: the child may hold policies the parent lacks (never `root`). */
  allowAnyPolicies?: boolean;
  /** The identity from a login; child tokens inherit their parent's. */
  identity?: { entityName: string; alias: TokenAlias };
}

export interface TokenLimits {
  defaultTtl: number;
  maxTtl: number;
}

const CHANNEL = 'sealbox_tokens';
const CACHE_MS = 30_000;
const CACHE_MAX = 10_000;

/** Token minting, lookup (cached, invalidated across replicas), renewal and tree revocation. Tokens are stored only as HMACs. */
export function createTokens(deps: { db: Db; store: TokensStore; barrier: Barrier; random: Random; clock: Clock; limits: TokenLimits; rowMac: RowMac }) {
  const { db, store, barrier, clock, limits } = deps;
  const cache = new Map<string, { entry: TokenEntry; until: number }>();
  const TOKEN_HMAC = 'token-hmac';
  const hmac = (token: string): Buffer => hmacSha256(barrier.deriveKey(TOKEN_HMAC), token);

  // Bumped on every invalidation: a lookup that started before one must not cache what it read.
  let generation = 0;
  const forget = (hexes: Iterable<string>): void => {
    generation++;
    for (const h of hexes) cache.delete(h);
  };
  const revokedHooks: ((accessors: string[]) => Promise<void>)[] = [];
  const broadcast = async (hmacs: Buffer[]): Promise<void> => {
    const hexes = hmacs.map((h) => h.toString('hex'));
    forget(hexes);
    const payload = hexes.join(',');
    await deps.db.notify(CHANNEL, payload.length < 7000 ? payload : '*');
  };

  const remainingTtl = (entry: TokenEntry): number =>
    entry.expiresAt ? Math.max(0, Math.round((entry.expiresAt.getTime() - clock.now().getTime()) / 1000)) : 0;

  const expired = (e: TokenEntry): boolean => e.expiresAt !== null && e.expiresAt.getTime() <= clock.now().getTime();

  /**
   * Every token row the broker acts on is checked (issue 13): its MAC, its use counter against the authenticated
   * limit (PostgreSQL counts uses down; a counter above the limit, or 0 = unlimited on a limited token, is tampering),
   * and its tombstone (a row restored after its revocation). Throws a 500 for a failed check.
   */
  const checked = (e: TokenEntry): TokenEntry => {
    deps.rowMac.verify('tokens', tokenFields(e), e.mac ?? null, e.accessor);
    const n = e.numUses;
    const limit = e.numUsesLimit ?? 0;
    if (deps.rowMac.enabled && (limit === 0 ? n !== 0 : n !== -1 && (n < 1 || n > limit))) {
      throw deps.rowMac.fail('tokens', e.accessor, `num_uses ${n} is outside its authenticated limit ${limit}`);
    }
    if (e.tombstone && deps.rowMac.enabled) {
      // A tombstone that does not check is a writer's forgery: it can only deny the token, so it is honoured too.
      deps.rowMac.ok('token_tombstones', tombstoneFields({ tokenHmac: e.tokenHmac, accessor: e.tombstone.accessor, until: e.tombstone.until }), e.tombstone.mac);
      throw deps.rowMac.fail('tokens', e.accessor, 'the token was revoked (a tombstone holds it): the row was restored');
    }
    return e;
  };
  const sign = (row: TokenRow, rootKey?: Uint8Array): TokenRow => ({ ...row, mac: deps.rowMac.sign('tokens', tokenFields(row), rootKey) });

  const build = (opts: CreateTokenOptions, parent: TokenEntry | null, tokenHmac?: Buffer) => {
    const now = clock.now();
    const isRoot = opts.policies.includes('root');
    const maxTtl = opts.explicitMaxTtl > 0 ? Math.min(opts.explicitMaxTtl, limits.maxTtl) : limits.maxTtl;
    let ttl = opts.period > 0 ? opts.period : opts.ttl > 0 ? opts.ttl : isRoot && opts.explicitMaxTtl === 0 ? 0 : limits.defaultTtl;
    // A period renews forever unless an explicit max caps it; everything else is capped by the max TTL.
    if (ttl > maxTtl && (opts.period === 0 || opts.explicitMaxTtl > 0)) ttl = maxTtl;
    const noExpiry = ttl === 0 && isRoot && opts.explicitMaxTtl === 0;
    const token = opts.id ?? newTokenValue(deps.random);
    const row: TokenRow = {
      tokenHmac: tokenHmac ?? hmac(token),
      accessor: randomBase62(deps.random, 24),
      parentAccessor: opts.orphan ? null : (parent?.accessor ?? null),
      policies: [...new Set(opts.policies)].sort(),
      displayName: opts.displayName,
      meta: opts.meta,
      path: opts.path,
      orphan: opts.orphan || parent === null,
      renewable: opts.renewable && !noExpiry,
      creationTtl: ttl,
      explicitMaxTtl: opts.explicitMaxTtl,
      period: opts.period,
      numUses: opts.numUses,
      createdAt: now,
      expiresAt: noExpiry ? null : new Date(now.getTime() + ttl * 1000),
      maxExpiresAt: noExpiry || (opts.period > 0 && opts.explicitMaxTtl === 0) ? null : new Date(now.getTime() + maxTtl * 1000),
      entityName: opts.identity?.entityName ?? parent?.entityName ?? '',
      alias: opts.identity?.alias ?? parent?.alias ?? null,
      numUsesLimit: opts.numUses,
      mac: null,
      lastRenewalAt: null,
    };
    return { token, row };
  };

  /** A child never outlives its parent: its expiry is capped to the parent's, its max expiry to the parent's last possible one. */
  const capToParent = (row: TokenRow, parent: TokenEntry | null): TokenRow => {
    if (!parent || row.parentAccessor === null || parent.expiresAt === null) return row;
    const min = (a: Date | null, b: Date | null): Date | null => (a === null ? b : b === null || a <= b ? a : b);
    const expiresAt = min(row.expiresAt, parent.expiresAt);
    const parentLast = parent.renewable ? parent.maxExpiresAt : parent.expiresAt;
    return { ...row, expiresAt, maxExpiresAt: min(row.maxExpiresAt, parentLast) };
  };

  /**
   * Makes sure a root token with this exact value exists (dev mode, initialisation). During initialisation
   * the barrier is not unsealed yet, so the caller passes the new root key.
   */
  const ensureRoot = async (token: string, q?: Queryable, rootKey?: Uint8Array): Promise<void> => {
    const { row: built } = build(
      { policies: ['root'], ttl: 0, explicitMaxTtl: 0, period: 0, numUses: 0, renewable: false, displayName: 'root', meta: {}, orphan: true, path: 'auth/token/root', id: token },
      null,
      rootKey ? hmacSha256(deriveKey(rootKey, TOKEN_HMAC), token) : undefined,
    );
    await store.insert(q ?? db, sign(built, rootKey));
    // The broker itself re-creates this root token (dev restarts): an earlier revocation of it no longer applies.
    await store.deleteTombstone(q ?? db, built.tokenHmac);
  };

  // numUses < 0: the last use is being spent; the token is revoked when that request ends.
  const live = (entry: TokenEntry | null): TokenEntry | null => (!entry || expired(entry) || entry.numUses < 0 ? null : entry);

  /** `freshForMs`: a cached entry due to expire sooner than that is read again (a periodic re-check keeps it warm). */
  const lookupHmac = async (key: Buffer, freshForMs = 0): Promise<TokenEntry | null> => {
    const hex = key.toString('hex');
    const hit = cache.get(hex);
    const nowMs = clock.now().getTime();
    let entry: TokenEntry | null;
    if (hit && hit.until > nowMs + freshForMs) entry = hit.entry;
    else {
      const seen = generation;
      const stored = await store.getByHmac(db, key);
      entry = stored && checked(stored);
      if (entry && entry.numUses === 0 && seen === generation) {
        if (cache.size >= CACHE_MAX) cache.clear();
        cache.set(hex, { entry, until: nowMs + CACHE_MS });
      }
    }
    return live(entry);
  };

  return {
    hmac,
    async listenForInvalidations(): Promise<void> {
      await deps.db.listen(CHANNEL, (payload) => {
        if (payload === null || payload === '*') {
          generation++;
          cache.clear();
        } else forget(payload.split(','));
      });
    },

    async create(parent: TokenEntry | null, opts: CreateTokenOptions, q?: Queryable): Promise<{ token: string; entry: TokenEntry }> {
      if (parent && !parent.policies.includes('root') && !opts.allowAnyPolicies) {
        const missing = opts.policies.filter((p) => p !== 'default' && !parent.policies.includes(p));
        if (missing.length > 0) throw new AppError('permission_denied', `child policies must be a subset of the parent's: ${missing.join(', ')}`);
      }
      if (opts.policies.includes('root') && parent && !parent.policies.includes('root')) {
        throw new AppError('permission_denied', 'root tokens may only be created by a root token');
      }
      const built = build(opts, parent);
      const { token } = built;
      const row = sign(capToParent(built.row, parent));
      if (!(await store.insert(q ?? db, row))) throw badRequest('cannot create a token with a duplicate ID');
      return { token, entry: row };
    },

    /** The live entry for a token, or null if it is unknown, expired or revoked. */
    async lookup(token: string): Promise<TokenEntry | null> {
      if (token.length === 0 || token.length > 256) return null;
      return lookupHmac(hmac(token));
    },

    /** `lookup` by the token's HMAC (`hmac(token)`): a long-lived holder of a token (an event stream) works it out once. */
    lookupHmac,

    /**
     * What `lookupHmac` would answer from the cache alone, without waiting: the live entry, null (cached but expired
     * or being spent), or undefined when it is not cached (ask `lookupHmac`). Invalidations apply to both alike.
     * Takes the HMAC in hex (`hmac(token).toString('hex')`), worked out once by a caller that asks for every event.
     */
    peek(hmacHex: string): TokenEntry | null | undefined {
      const hit = cache.get(hmacHex);
      const nowMs = clock.now().getTime();
      if (!hit || hit.until <= nowMs) return undefined;
      const e = hit.entry;
      return (e.expiresAt !== null && e.expiresAt.getTime() <= nowMs) || e.numUses < 0 ? null : e;
    },

    /**
     * Spends one use of a limited-use token: 'ok' (uses remain or unlimited), 'last' (this was the last use:
     * the caller revokes the token once the request is done) or 'none' (no uses were left).
     */
    async spendUse(entry: TokenEntry): Promise<'ok' | 'last' | 'none'> {
      if (entry.numUses === 0) return 'ok';
      const left = await store.spendUse(db, entry.accessor);
      return left === null ? 'none' : left < 0 ? 'last' : 'ok';
    },

    /** Accessors of live tokens (auth/token/accessors), at most `limit`. */
    listAccessors: (limit: number): Promise<string[]> => store.accessors(db, clock.now(), limit),

    async lookupAccessor(accessor: string): Promise<TokenEntry | null> {
      const stored = await store.getByAccessor(db, accessor);
      const e = stored && checked(stored);
      return e && !expired(e) ? e : null;
    },

    async renew(entry: TokenEntry, increment: number): Promise<TokenEntry> {
      if (!entry.renewable) throw badRequest('token is not renewable');
      const now = clock.now().getTime();
      const want = entry.period > 0 ? entry.period : increment > 0 ? increment : entry.creationTtl;
      let expires = now + want * 1000;
      if (entry.maxExpiresAt) expires = Math.min(expires, entry.maxExpiresAt.getTime());
      if (entry.parentAccessor) {
        // Not past the parent's current expiry; a child whose parent is gone is being revoked with it.
        const storedParent = await store.getByAccessor(db, entry.parentAccessor);
        const parent = storedParent && checked(storedParent);
        if (!parent || expired(parent)) throw badRequest('token is not renewable: its parent token has expired or was revoked');
        if (parent.expiresAt) expires = Math.min(expires, parent.expiresAt.getTime());
      }
      const expiresAt = new Date(expires);
      const lastRenewalAt = new Date(now);
      const renewed = sign({ ...entry, expiresAt });
      await store.setExpiry(db, entry.accessor, expiresAt, renewed.mac ?? null, lastRenewalAt);
      await broadcast([entry.tokenHmac]);
      return { ...renewed, lastRenewalAt };
    },

    /** Revokes the token and all its descendants. */
    async revoke(accessor: string): Promise<number> {
      // Tombstones first, in the same transaction: a token row restored from a backup is then refused.
      const now = clock.now().getTime();
      const gone = await deps.db.tx(async (q) => {
        const tree = await store.treeForUpdate(q, accessor);
        const tombs = tree
          .filter((t) => (t.expiresAt === null || t.expiresAt.getTime() > now) && (t.maxExpiresAt === null || t.maxExpiresAt.getTime() > now))
          .map((t) => {
            const tomb = { tokenHmac: t.tokenHmac, accessor: t.accessor, until: t.maxExpiresAt };
            return { ...tomb, mac: deps.rowMac.sign('token_tombstones', tombstoneFields(tomb)) };
          });
        await store.insertTombstones(q, tombs);
        return store.deleteTree(q, accessor);
      });
      if (gone.length > 0) {
        await broadcast(gone.map((g) => g.tokenHmac));
        for (const hook of revokedHooks) await hook(gone.map((g) => g.accessor));
      }
      return gone.length;
    },

    /** Deletes the tombstones of tokens that could no longer be used anyway (the token-tidy job). */
    pruneTombstones: (): Promise<number> => store.pruneTombstones(db, clock.now()),

    /** Revokes up to `limit` expired tokens (and so their children and leases); returns how many went. */
    async revokeExpired(limit: number): Promise<number> {
      let n = 0;
      for (const accessor of await store.expiredAccessors(db, clock.now(), limit)) n += await this.revoke(accessor);
      return n;
    },

    /** Called with the accessors of every revoked token (the leases issue revokes their leases here). */
    onRevoked(hook: (accessors: string[]) => Promise<void>): void {
      revokedHooks.push(hook);
    },

    ensureRoot,

    /** Mints a new root token (sys/init), inside the initialising transaction under the new root key. */
    async createRoot(q: Queryable, rootKey: Uint8Array): Promise<string> {
      const token = newTokenValue(deps.random);
      await ensureRoot(token, q, rootKey);
      return token;
    },

    remainingTtl,

    /** The `auth` block of a response that hands out this token. */
    authResponse(token: string, e: TokenEntry): AuthResponse {
      return {
        clientToken: token,
        accessor: e.accessor,
        policies: e.policies,
        tokenPolicies: e.policies,
        metadata: e.meta,
        leaseDuration: remainingTtl(e),
        renewable: e.renewable,
        orphan: e.orphan,
        numUses: Math.max(0, e.numUses),
      };
    },
  };
}

export type Tokens = ReturnType<typeof createTokens>;
