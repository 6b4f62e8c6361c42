/**
 * The lease manager (DESIGN §4): leases are indexed PostgreSQL rows, never a table in memory, so start-up costs
 * the same with ten leases or ten million. It never imports an engine: `secretType` resolves a lease's mount and
 * type to the engine's renew and revoke.
 */
import { AppError, badRequest } from '../../lib/errors.ts';
import type { Clock } from '../../lib/clock.ts';
import type { Logger } from '../../lib/log.ts';
import { randomBase62, randomFraction, type Random } from '../../lib/random.ts';
import type { Db, Queryable } from '../../storage/db.ts';
import type { BatchOutcome, LeaseCountQuota, LeaseRow, LeasesStore, NewLease } from '../../storage/leases-store.ts';
import { createGroupCommit } from '../../lib/group-commit.ts';
import type { Barrier } from '../barrier/barrier.ts';
import type { LeaseInfo, LeaseSpec, MountInfo, SecretType } from '../engine.ts';
import { rowIntegrityError, type RowMac } from '../integrity/row-mac.ts';
import { leaseFields, leaseQuotaFields } from '../integrity/rows.ts';
import type { TtlPolicy } from './ttl-policy.ts';
import { CONTEXTS } from '../barrier/contexts.ts';

export interface LeaseLimits {
  /** Failed revocations before a lease becomes irrevocable. */
  maxAttempts: number;
  /** First retry delay; doubles per attempt (with jitter), capped at 10 minutes. */
  backoffMs: number;
  /** Seconds between retries of an irrevocable lease. */
  irrevocableRetrySeconds: number;
}

export interface LeaseManagerDeps {
  db: Db;
  store: LeasesStore;
  barrier: Barrier;
  clock: Clock;
  random: Random;
  log: Logger;
  limits: LeaseLimits;
  /** Every lease's lifetime comes from here (the mount's TTLs under the broker's). */
  ttl: TtlPolicy;
  /** The engine's renew/revoke for a lease's mount and secret type; null when the mount or type is gone. */
  secretType(mountId: string, type: string): SecretType | null;
  rowMac: RowMac;
  /** Whether the token that holds a lease still exists (a lease whose token was revoked is never renewed). */
  tokenAlive?: (accessor: string) => Promise<boolean>;
  /** Deletes a lease intent (lease-intents.ts) once its secret is undone (a stored lease ends its intent in its own insert). */
  forgetIntent?(q: Queryable, id: string): Promise<void>;
  /** Test-only crash points (SEALBOX_TEST_FAILPOINTS): "lease:before-insert" kills the process before a lease is stored. */
  failpoints?: ReadonlySet<string>;
}

/** A claimed lease whose row checked, with its engine's secret type and its opened data (prepareClaimed). */
export interface ClaimedLease {
  row: LeaseRow;
  type: SecretType;
  lease: LeaseInfo;
}

export interface Registered {
  id: string;
  duration: number;
  renewable: boolean;
}

/** How long a replica owns a lease it is revoking before others may retry it (a crash mid-revoke). */
const CLAIM_SECONDS = 60;
/** How long an explicit revoke waits for someone else's revocation of the same lease to finish. */
const BUSY_WAIT_MS = 15_000;
const BUSY_POLL_MS = 100;
const MAX_BACKOFF_MS = 10 * 60_000;
const ERROR_CHARS = 500;

const addSeconds = (d: Date, s: number): Date => new Date(d.getTime() + s * 1000);
const ctxOf = CONTEXTS.leases;

export const leaseNotFound = (): AppError => badRequest('lease not found');
const QUOTA_CACHE_MS = 1000;
const quotaExceeded = (q: { name: string; path: string; maxLeases: number }): AppError =>
  new AppError('rate_limited', 'lease count quota exceeded', [`quota "${q.name}" allows ${q.maxLeases} leases under "${q.path}"`]);

/** The text kept in last_error: the engine's message, bounded, never a stack. */
function errorText(err: unknown): string {
  const msg = err instanceof Error ? err.message : String(err);
  return msg.slice(0, ERROR_CHARS) || 'revocation failed';
}

export function createLeaseManager(deps: LeaseManagerDeps) {
  const { store, db, clock, limits } = deps;

  async function info(row: LeaseRow, expiresAt = row.expiresAt): Promise<LeaseInfo> {
    const plain = await deps.barrier.decrypt(ctxOf(row.id), row.internal);
    return { id: row.id, internal: JSON.parse(plain.toString('utf8')) as Record<string, unknown>, issuedAt: row.issuedAt, expiresAt };
  }

  function typeOf(row: LeaseRow): SecretType {
    const t = deps.secretType(row.mountId, row.secretType);
    if (!t) throw new Error(`no engine for secret type "${row.secretType}" on mount ${row.mountId} (was it unmounted?)`);
    return t;
  }

  /** The delay before retry number `attempts` (1-based): exponential with full jitter over its upper half. */
  function backoffMs(attempts: number): number {
    const ceiling = Math.min(MAX_BACKOFF_MS, limits.backoffMs * 2 ** Math.min(attempts - 1, 30));
    return Math.round(ceiling / 2 + randomFraction(deps.random) * (ceiling / 2));
  }

  /** Records a failed revocation: back off, or after maxAttempts mark the lease irrevocable (retried daily). */
  async function failed(row: LeaseRow, claimId: string, err: unknown): Promise<void> {
    const attempts = row.revokeAttempts + 1;
    const irrevocable = row.state === 'irrevocable' || attempts >= limits.maxAttempts;
    const now = clock.now();
    const dueAt = irrevocable ? addSeconds(now, limits.irrevocableRetrySeconds) : new Date(now.getTime() + backoffMs(attempts));
    const error = errorText(err);
    await store.recordFailure(db, row.id, claimId, { attempts, dueAt, error, irrevocable });
    const fields = { lease_id: row.id, attempts, error, next_attempt_at: dueAt.toISOString() };
    if (irrevocable && row.state !== 'irrevocable') deps.log.error(fields, 'lease is irrevocable: revocation keeps failing; retried daily, listed at sys/leases?type=irrevocable');
    else deps.log.warn(fields, 'lease revocation failed; will retry');
  }

  /** A lease row is acted on only when its MAC checks (issue 13); throws the 500 and logs the lease id otherwise. */
  const checked = (row: LeaseRow): LeaseRow => {
    deps.rowMac.verify('leases', leaseFields(row), row.mac);
    return row;
  };

  /** Records a failed revocation of a lease this claim holds (retry with backoff, or irrevocable); never throws. */
  const revokeFailed = (row: LeaseRow, claimId: string, err: unknown): Promise<void> =>
    failed(row, claimId, err).catch((e: Error) => deps.log.error({ lease_id: row.id, err: e.message }, 'could not record a failed revocation'));

  /**
   * A lease this claim holds, ready for its engine: row checked, secret type resolved, internal data opened. Null
   * when any of that fails (recorded as a failed revocation). A row that fails its check is never handed to an engine
   * (its mount or type may have been repointed): it is retried and ends up listed as irrevocable for an operator.
   */
  async function prepareClaimed(row: LeaseRow, claimId: string): Promise<ClaimedLease | null> {
    try {
      checked(row);
      return { row, type: typeOf(row), lease: await info(row) };
    } catch (err) {
      await revokeFailed(row, claimId, err);
      return null;
    }
  }

  /** Runs the engine's revoke for a lease this claim holds; true when it is gone (the caller deletes the row). */
  async function revokeClaimed(row: LeaseRow, claimId: string): Promise<boolean> {
    const ready = await prepareClaimed(row, claimId);
    if (!ready) return false;
    try {
      await ready.type.revoke(ready.lease);
      return true;
    } catch (err) {
      await revokeFailed(row, claimId, err);
      return false;
    }
  }

  // Lease count quotas as last read (at most QUOTA_CACHE_MS old): a cheap refusal before an engine mints anything.
  // Only quotas whose MAC checks are trusted; the insert counts any other covering quota as full.
  let quotaCache: { at: number; quotas: LeaseCountQuota[]; bad: Map<string, string> } | null = null;
  const loadQuotas = async (): Promise<NonNullable<typeof quotaCache>> => {
    const all = await store.quotaCounters(db);
    const bad = new Map(all.filter((x) => !deps.rowMac.ok('lease_count_quotas', leaseQuotaFields(x), x.mac, x.name)).map((x) => [x.name, x.path]));
    quotaCache = { at: clock.now().getTime(), quotas: all.filter((x) => !bad.has(x.name)), bad };
    return quotaCache;
  };
  const quotas = async (force: boolean): Promise<NonNullable<typeof quotaCache>> =>
    !force && quotaCache && clock.now().getTime() - quotaCache.at <= QUOTA_CACHE_MS ? quotaCache : loadQuotas();
  /** Whether a quota (trusted or not) as last read covers a lease id. */
  const coveredBy = (c: NonNullable<typeof quotaCache>, id: string): boolean => [...c.quotas.map((x) => x.path), ...c.bad.values()].some((p) => id.startsWith(p));

  // Leases no quota covers are group-committed: concurrent mints store theirs (each ending its intent) in one
  // statement per batch. Each register returns only once its own row is committed (read-your-writes); a failed
  // batch fails each of its registers, which then revoke their secrets as any failed registration does.
  const inserts = createGroupCommit<{ lease: NewLease; endsIntent: string | null }, BatchOutcome>({ write: (items) => store.insertBatch(db, items), gather: true });

  return {
    revokeClaimed,
    prepareClaimed,
    revokeFailed,
    /** Lease insert batches written, and leases in them (tests). */
    insertStats: inserts.stats,

    /**
     * Throws 429 when a lease count quota covering `path` (mount path + request path) is full. Counters are read at
     * most once a second; a quota that looks full is read again before refusing, so a freed place is never refused.
     */
    async assertQuotaRoom(path: string): Promise<void> {
      const fullIn = (quotas: LeaseCountQuota[]) => quotas.find((x) => `${path}/`.startsWith(x.path) && x.used >= x.maxLeases);
      const tampered = (c: NonNullable<typeof quotaCache>) => [...c.bad.values()].some((p) => `${path}/`.startsWith(p));
      const cached = await quotas(false);
      if (tampered(cached)) throw rowIntegrityError();
      if (!fullIn(cached.quotas)) return;
      const fresh = await quotas(true);
      if (tampered(fresh)) throw rowIntegrityError();
      const full = fullIn(fresh.quotas);
      if (full) throw quotaExceeded(full);
    },

    /**
     * Registers the lease for a secret an engine has just created. If that fails (quota, database), the secret
     * is revoked at once through the engine, so that no credential outlives its missing lease.
     */
    async register(mount: MountInfo, path: string, spec: LeaseSpec, tokenAccessor: string | null): Promise<Registered & { warnings: string[] }> {
      const now = clock.now();
      const { ttl, maxTtl, warnings } = deps.ttl.forMount(mount).resolve(spec);
      const id = `${mount.path}${path}/${randomBase62(deps.random, 24)}`;
      const expiresAt = addSeconds(now, ttl);
      // Taken now: if the mount goes away while this registers, its engine is still needed to undo the secret.
      const type = deps.secretType(mount.id, spec.type);
      try {
        const internal = deps.barrier.encrypt(ctxOf(id), Buffer.from(JSON.stringify(spec.internal), 'utf8')).sealed;
        if (deps.failpoints?.has('lease:before-insert')) {
          deps.log.warn({ failpoint: 'lease:before-insert' }, 'test failpoint: killing the process');
          process.kill(process.pid, 'SIGKILL');
        }
        const lease = {
          id,
          mountId: mount.id,
          secretType: spec.type,
          internal,
          tokenAccessor,
          issuedAt: now,
          expiresAt,
          maxExpiresAt: addSeconds(now, maxTtl),
          ttlSeconds: ttl,
          renewable: spec.renewable,
          dueAt: expiresAt,
        };
        const row = { ...lease, mac: deps.rowMac.sign('leases', leaseFields(lease)) };
        // The lease and the end of its intent commit together, in one statement (one round trip, no transaction to
        // open and close): a secret is always either leased or still intended. Quotas are read before it.
        const cached = await quotas(false);
        if (!coveredBy(cached, id)) {
          // No quota covers it (as last read; the batch statement checks again): group-committed with other mints.
          const outcome = await inserts.submit({ lease: row, endsIntent: spec.intentId ?? null });
          if (outcome === 'no-mount') throw new Error('the mount was removed while the secret was issued');
          if (outcome === 'inserted') return { id, duration: ttl, renewable: spec.renewable, warnings };
          // 'covered': a quota appeared since it was read; the quota-checked insert below decides.
        }
        const insert = async (qs: Awaited<ReturnType<typeof quotas>>['quotas']) => store.insertWithinQuota(db, row, qs, spec.intentId ?? null);
        let full = await insert(cached.quotas);
        if (full) {
          // Full, or a covering quota changed since it was checked: check again, then retry once.
          const fresh = await quotas(true);
          if (fresh.bad.has(full.name)) throw rowIntegrityError();
          full = await insert(fresh.quotas);
          if (full && fresh.bad.has(full.name)) throw rowIntegrityError();
        }
        if (full) throw quotaExceeded(full);
      } catch (err) {
        try {
          if (!type) throw new Error(`no engine for secret type "${spec.type}"`);
          await type.revoke({ id, internal: spec.internal, issuedAt: now, expiresAt });
          if (spec.intentId) await deps.forgetIntent?.(db, spec.intentId);
          deps.log.warn({ lease_id: id, err: errorText(err) }, 'lease registration failed; the new secret was revoked at once');
        } catch (revokeErr) {
          deps.log.error({ lease_id: id, err: errorText(revokeErr) }, 'lease registration failed AND revoking the new secret failed: it lives until its own expiry');
        }
        throw err;
      }
      return { id, duration: ttl, renewable: spec.renewable, warnings };
    },

    async lookup(id: string): Promise<LeaseRow | null> {
      const row = await store.get(db, id);
      return row && checked(row);
    },

    /** Vault's renew: the new TTL is `increment` (or the lease's own TTL) from now, capped at the lease's max. */
    async renew(id: string, increment: number): Promise<Registered & { warnings: string[] }> {
      const stored = await store.get(db, id);
      const row = stored && checked(stored);
      const now = clock.now();
      if (!row || row.state !== 'active' || row.expiresAt <= now) throw leaseNotFound();
      if (!row.renewable) throw badRequest('lease is not renewable');
      // `state` is bookkeeping a writer could set back to 'active': a lease whose token is gone is never renewed.
      if (row.tokenAccessor && deps.tokenAlive && !(await deps.tokenAlive(row.tokenAccessor))) throw leaseNotFound();
      const wanted = increment > 0 ? increment : row.ttlSeconds;
      const left = Math.max(0, Math.floor((row.maxExpiresAt.getTime() - now.getTime()) / 1000));
      const ttl = Math.min(wanted, left);
      const warnings = wanted > ttl ? [`TTL of "${wanted}s" exceeded the effective max_ttl of "${left}s"; TTL value is capped accordingly`] : [];
      const expiresAt = addSeconds(now, ttl);
      const type = typeOf(row);
      if (type.renew) await type.renew(await info(row, expiresAt));
      const mac = deps.rowMac.sign('leases', leaseFields({ ...row, expiresAt }));
      if (!(await store.renewed(db, id, expiresAt, now, mac))) throw leaseNotFound();
      return { id, duration: ttl, renewable: true, warnings };
    },

    /**
     * Revokes one lease now and waits for the engine. Unknown ids succeed (Vault's revoke is idempotent). A
     * failure is recorded for the retry schedule and reported; `force` forgets the lease anyway.
     */
    async revoke(id: string, opts: { force?: boolean } = {}): Promise<void> {
      const claimId = deps.random.uuid();
      let row: LeaseRow | null = null;
      // Someone (the expiry worker, another replica) is revoking it right now: wait for them rather than revoke twice.
      for (let waited = 0; ; waited += BUSY_POLL_MS) {
        const now = clock.now();
        const claim = await store.claimOne(db, id, claimId, now, addSeconds(now, CLAIM_SECONDS));
        if (!claim.busy) {
          row = claim.row;
          break;
        }
        if (waited >= BUSY_WAIT_MS) throw new AppError('unavailable', `lease "${id.slice(0, 200)}" is being revoked; try again`);
        await new Promise((r) => setTimeout(r, BUSY_POLL_MS));
      }
      if (!row) return;
      if (await revokeClaimed(row, claimId)) {
        await store.deleteMany(db, [row.id], claimId);
        deps.log.info({ lease_id: row.id }, 'lease revoked');
        return;
      }
      if (opts.force) {
        // The failure was recorded and the claim let go: take it again to delete the row.
        const now = clock.now();
        const again = await store.claimOne(db, id, claimId, now, addSeconds(now, CLAIM_SECONDS));
        if (again.row) await store.deleteMany(db, [row.id], claimId);
        deps.log.error({ lease_id: row.id }, 'lease FORCE-revoked: the secret may still exist on its target; the broker no longer tracks it');
        return;
      }
      throw new AppError('unavailable', `failed to revoke lease "${row.id}"; it will be retried`);
    },

    /** Revokes every lease under a prefix, in id order, page by page; returns how many were revoked or forgotten. */
    async revokePrefix(prefix: string, opts: { force?: boolean; mountId?: string } = {}): Promise<{ revoked: number; failed: number }> {
      let after = '';
      let revoked = 0;
      let failedCount = 0;
      for (;;) {
        // With a mount id: that mount's leases, whatever path they were issued under (sys/remount keeps lease ids).
        const ids = opts.mountId ? await store.idsOfMount(db, opts.mountId, 500, after) : await store.idsWithPrefix(db, prefix, 500, after);
        if (ids.length === 0) break;
        after = ids[ids.length - 1] ?? after;
        for (const id of ids) {
          try {
            await this.revoke(id, opts);
            revoked += 1;
          } catch {
            failedCount += 1;
          }
        }
      }
      if (opts.force && revoked > 0) deps.log.error({ prefix, count: revoked }, 'revoke-force: leases forgotten under prefix');
      return { revoked, failed: failedCount };
    },

    /** Leases whose token is gone but were never queued (a crash in between) become due now. */
    async sweepOrphans(limit = 1000): Promise<number> {
      const n = await store.orphansDue(db, clock.now(), limit);
      if (n > 0) deps.log.warn({ count: n }, 'leases of tokens that no longer exist were queued for revocation');
      return n;
    },

    /** A revoked token's leases become due now; the expiry worker revokes them in batches. */
    async tokensRevoked(accessors: readonly string[]): Promise<number> {
      return store.dueByAccessors(db, accessors, clock.now());
    },

    children(prefix: string, limit: number): Promise<string[]> {
      return store.children(db, prefix, limit);
    },

    irrevocable(limit: number): Promise<LeaseRow[]> {
      return store.irrevocable(db, limit);
    },

    count(irrevocableOnly: boolean): Promise<number> {
      return store.count(db, irrevocableOnly);
    },
  };
}

export type LeaseManager = ReturnType<typeof createLeaseManager>;
