/**
 * Response wrapping (Vault's cubbyhole wrapping, issue 15): a response is replaced by a single-use wrapping token
 * whose only policy is `response-wrapping`; the response itself is sealed by the barrier under the token's accessor
 * (core storage, context `core/sys/wrapping/<accessor>`) together with the token's HMAC, so that it opens for that
 * token only. Unwrapping spends the token's one use atomically, returns the response and revokes the token; a revoked
 * or expired token's stored response is deleted (the revocation hook).
 */
import { timingSafeEqual } from 'node:crypto';
import type { Clock } from '../../lib/clock.ts';
import { AppError } from '../../lib/errors.ts';
import type { AuthResponse, EngineResponse, EngineStorage, WrapInfo } from '../engine.ts';
import type { WrappingLimits } from '../policy/policy.ts';
import type { TokenEntry, Tokens } from './tokens.ts';

export const RESPONSE_WRAPPING_POLICY = 'response-wrapping';

/** What a wrapping token seals: the response as the client would have seen it. */
interface StoredResponse {
  tokenHmac: string;
  requestId: string;
  data?: Record<string, unknown>;
  auth?: AuthResponse;
  warnings?: string[];
  leased?: { id: string; duration: number; renewable: boolean };
}

export const isWrappingToken = (e: Pick<TokenEntry, 'policies'>): boolean => e.policies.length === 1 && e.policies[0] === RESPONSE_WRAPPING_POLICY;

/** Vault's consts.ErrInvalidWrappingToken, a 400. */
export const invalidWrappingToken = (): AppError => new AppError('bad_request', 'wrapping token is not valid or does not exist');

const key = (accessor: string): string => `wrapping/${accessor}`;

/**
 * Vault's min/max_wrapping_ttl check (policy/acl.go): with either limit set, the request must be wrapped with a TTL
 * within the limits (and min above max never passes); with neither, anything goes.
 */
export function wrappingAllowed(limits: WrappingLimits | null, wrapTtl: number | undefined): boolean {
  const min = limits?.minWrappingTtl ?? 0;
  const max = limits?.maxWrappingTtl ?? 0;
  if (min === 0 && max === 0) return true;
  const ttl = wrapTtl ?? 0;
  if (ttl === 0) return false;
  if (max > 0 && ttl > max) return false;
  if (min > 0 && ttl < min) return false;
  return !(min > 0 && max > 0 && max < min);
}

/** Whether a response can be wrapped: it carries something, and is a JSON envelope (not raw bytes or a stream). */
export const wrappable = (r: EngineResponse): boolean => !r.raw && !r.stream && !r.wrapInfo && (r.data !== undefined || r.auth !== undefined);

export function createResponseWrapping(deps: { tokens: Tokens; storage: EngineStorage; clock: Clock }) {
  const { tokens, storage } = deps;

  async function seal(response: StoredResponse, opts: { ttl: number; creationPath: string; displayName: string; wrappedAccessor?: string }): Promise<WrapInfo> {
    const { token, entry } = await tokens.create(null, {
      policies: [RESPONSE_WRAPPING_POLICY],
      ttl: opts.ttl,
      explicitMaxTtl: opts.ttl,
      period: 0,
      numUses: 1,
      renewable: false,
      displayName: opts.displayName,
      meta: {},
      orphan: true,
      path: opts.creationPath,
    });
    const stored: StoredResponse = { ...response, tokenHmac: tokens.hmac(token).toString('hex') };
    try {
      await storage.put(key(entry.accessor), Buffer.from(JSON.stringify(stored), 'utf8'));
    } catch (err) {
      await tokens.revoke(entry.accessor);
      throw err;
    }
    return {
      token,
      accessor: entry.accessor,
      ttl: tokens.remainingTtl(entry),
      creationTime: entry.createdAt.toISOString(),
      creationPath: opts.creationPath,
      ...(opts.wrappedAccessor ? { wrappedAccessor: opts.wrappedAccessor } : {}),
    };
  }

  /** The live wrapping token entry for `token`, or the 400 Vault answers for anything else. */
  async function entryOf(token: string): Promise<TokenEntry> {
    const entry = await tokens.lookup(token);
    if (!entry || !isWrappingToken(entry)) throw invalidWrappingToken();
    return entry;
  }

  /**
   * Spends the token's one use and reads its response; the caller that spent the use revokes the token whatever
   * happens. A concurrent caller that lost the race touches nothing (else it could delete the response first).
   */
  async function consume(token: string): Promise<StoredResponse> {
    const entry = await entryOf(token);
    if ((await tokens.spendUse(entry)) === 'none') throw invalidWrappingToken();
    try {
      const raw = await storage.get(key(entry.accessor));
      if (!raw) throw invalidWrappingToken();
      const stored = JSON.parse(raw.toString('utf8')) as StoredResponse;
      const want = Buffer.from(tokens.hmac(token).toString('hex'));
      const got = Buffer.from(stored.tokenHmac);
      if (want.length !== got.length || !timingSafeEqual(want, got)) throw invalidWrappingToken();
      return stored;
    } finally {
      await tokens.revoke(entry.accessor);
    }
  }

  return {
    /** Replaces `response` by a wrapping token (the pipeline calls this before the response is audited). */
    async wrap(response: EngineResponse, opts: { ttl: number; creationPath: string; requestId: string; mountType: string }): Promise<EngineResponse> {
      const secretIdAccessor = opts.mountType === 'approle' && !response.auth ? response.data?.secret_id_accessor : undefined;
      const wrapInfo = await seal(
        { tokenHmac: '', requestId: opts.requestId, data: response.data, auth: response.auth, warnings: response.warnings, leased: response.leased },
        {
          ttl: opts.ttl,
          creationPath: opts.creationPath,
          displayName: '',
          wrappedAccessor: response.auth?.accessor ?? (typeof secretIdAccessor === 'string' ? secretIdAccessor : undefined),
        },
      );
      return { wrapInfo, warnings: response.warnings };
    },

    /** sys/wrapping/unwrap: the original response, once. */
    async unwrap(token: string): Promise<EngineResponse> {
      const s = await consume(token);
      const out: EngineResponse = { data: s.data, auth: s.auth, warnings: s.warnings, leased: s.leased };
      // An empty wrapped response unwraps to 204, as in Vault.
      return s.data || s.auth || s.leased ? out : {};
    },

    /** sys/wrapping/lookup: what the token was made for, without spending it. */
    async lookup(token: string): Promise<Record<string, unknown>> {
      const entry = await entryOf(token);
      return { creation_path: entry.path, creation_time: entry.createdAt.toISOString(), creation_ttl: entry.creationTtl };
    },

    /** sys/wrapping/rewrap: the same response under a new token with the same TTL and creation path; the old one is spent. */
    async rewrap(token: string): Promise<EngineResponse> {
      const entry = await entryOf(token);
      const stored = await consume(token);
      const wrapInfo = await seal(stored, {
        ttl: entry.creationTtl,
        creationPath: entry.path,
        displayName: entry.displayName,
        wrappedAccessor: stored.auth?.accessor,
      });
      return { wrapInfo };
    },

    /** The revocation hook: a revoked (or expired, then tidied) wrapping token's response goes with it. */
    async forget(accessors: readonly string[]): Promise<void> {
      if (accessors.length > 0) await storage.delete(accessors.map(key));
    },
  };
}

export type ResponseWrapping = ReturnType<typeof createResponseWrapping>;
