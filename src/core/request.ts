import type { z } from 'zod';
import { AppError, permissionDenied } from '../lib/errors.ts';
import type { Clock } from '../lib/clock.ts';
import { inputShape, normalizeVaultInput } from '../lib/vault-input.ts';
import type { AuditTrail } from './audit/entry.ts';
import type { AuditRecorder } from './audit/recorder.ts';
import type { Barrier } from './barrier/barrier.ts';
import type { AuthResponse, Caller, EngineRequest, EngineResponse, LoginResult, MountInfo, Operation } from './engine.ts';
import type { LeaseManager } from './leases/leases.ts';
import { mountAccessor, type MountTable, type RouteMatch } from './mounts/mounts.ts';
import type { PathMatch } from './mounts/path-match.ts';
import type { Authorizer, Capability } from './policy/policy.ts';
import type { TokenEntry, Tokens } from './tokens/tokens.ts';
import { isWrappingToken, RESPONSE_WRAPPING_POLICY, wrappable, wrappingAllowed, type ResponseWrapping } from './tokens/wrapping.ts';

export interface PipelineRequest {
  operation: Operation;
  /** Normalised request path under /v1, without leading or trailing slash. */
  path: string;
  /** Query parameters for read/list/delete, the JSON body for writes. Not yet validated. */
  rawInput: Record<string, unknown>;
  /**
   * The body of a write, read on demand: only once the token is known to be valid (`authenticated`), or for a path
   * that needs no token (then within the budget for unauthenticated bodies). It replaces `rawInput` when read.
   */
  body?: (authenticated: boolean) => Promise<Record<string, unknown>>;
  token: string | null;
  requestId: string;
  remoteAddress: string;
  /** TLS client certificate chain (leaf first, DER), if any. */
  peerCertificates?: readonly Buffer[];
  /** Set only by the broker itself, never from the wire (e.g. its own TLS certificate): root privileges, no token, still audited. */
  internal?: boolean;
  /** Seconds (X-Vault-Wrap-TTL): wrap the response in a single-use wrapping token with this TTL. */
  wrapTtl?: number;
}

export interface PipelineResult {
  response: EngineResponse;
  mount: MountInfo;
}

export interface PipelineDeps {
  mounts: MountTable;
  tokens: Tokens;
  authorizer: Authorizer;
  barrier: Barrier;
  clock: Clock;
  /** Absent only when auditing is switched off (tests and benchmarks). */
  audit?: AuditRecorder;
  leases: LeaseManager;
  /** Where engines' change events go (the event bus); absent: events are dropped. */
  publish?: (e: { type: string; path: string; version?: number }) => Promise<void>;
  /** Response wrapping (X-Vault-Wrap-TTL); absent: a request asking for it is refused. */
  wrapping?: ResponseWrapping;
}

function formatIssues(err: z.ZodError): string[] {
  return err.issues.slice(0, 10).map((i) => {
    const where = i.path.length > 0 ? i.path.join('.') : 'body';
    return `${where}: ${i.message}`;
  });
}

function unknownFields(schema: z.ZodType, input: Record<string, unknown>): string[] {
  const shape = inputShape(schema);
  if (!shape) return [];
  return Object.keys(input).filter((k) => !Object.hasOwn(shape, k));
}

const hasToken = (input: Record<string, unknown>): boolean => typeof input.token === 'string' && input.token !== '';

const CAPABILITY: Record<Exclude<Operation, 'update'>, Capability> = { read: 'read', list: 'list', delete: 'delete', patch: 'patch' };

/**
 * The one request pipeline (DESIGN §1): route → seal check → authenticate → authorise → validate → engine
 * → mint a token for a login. Audit recording plugs in around `handle` (audit issue).
 */
export function createPipeline(deps: PipelineDeps) {
  /** Auth methods prove an identity; the token is minted here, so that no engine can mint one itself. */
  async function mintLoginToken(path: string, mount: MountInfo, login: LoginResult): Promise<AuthResponse> {
    if (login.policies.includes('root')) throw new AppError('bad_request', 'an auth method cannot grant the root policy');
    if (login.policies.includes(RESPONSE_WRAPPING_POLICY)) throw new AppError('bad_request', `an auth method cannot grant the ${RESPONSE_WRAPPING_POLICY} policy`);
    const policies = [...login.policies, ...(login.noDefaultPolicy ? [] : ['default'])];
    const { token, entry } = await deps.tokens.create(null, {
      policies,
      ttl: login.ttl,
      explicitMaxTtl: login.maxTtl,
      period: login.period ?? 0,
      numUses: login.numUses ?? 0,
      renewable: login.renewable ?? true,
      displayName: login.displayName,
      meta: login.alias.metadata,
      orphan: true,
      path,
      identity: {
        entityName: login.alias.name,
        alias: { mountAccessor: mountAccessor(mount), mountType: mount.type, name: login.alias.name, metadata: login.alias.metadata },
      },
    });
    return deps.tokens.authResponse(token, entry);
  }

  function engineRequest(req: PipelineRequest, route: RouteMatch, match: PathMatch, caller: Caller | null, input: unknown): EngineRequest {
    return {
      operation: req.operation,
      path: route.rest,
      params: match.params,
      input,
      requestId: req.requestId,
      remoteAddress: req.remoteAddress,
      caller,
      clientToken: match.def.needsToken && req.token ? req.token : undefined,
      mount: route.mounted.info,
      peerCertificates: req.peerCertificates,
      wrapTtl: req.wrapTtl,
    };
  }

  /** Which capability the request needs: writes need `create` when the target does not exist yet. */
  async function capabilityFor(req: PipelineRequest, route: RouteMatch, match: PathMatch | null): Promise<Capability> {
    if (req.operation !== 'update') return CAPABILITY[req.operation];
    if (!match?.def.exists) return 'update';
    return (await match.def.exists(engineRequest(req, route, match, null, req.rawInput))) ? 'update' : 'create';
  }

  /** Reads the request body (once), now that the caller may send one. */
  async function readInput(req: PipelineRequest, trail: AuditTrail, authenticated: boolean): Promise<void> {
    const body = req.body;
    if (!body) return;
    req.body = undefined;
    req.rawInput = await body(authenticated);
    trail.rawInput = req.rawInput;
  }

  async function authenticate(req: PipelineRequest, route: RouteMatch, match: PathMatch | null, trail: AuditTrail): Promise<TokenEntry> {
    const entry = req.token ? await deps.tokens.lookup(req.token) : null;
    if (!entry) throw permissionDenied();
    trail.token = entry;
    await readInput(req, trail, true);
    // A wrapping token is good for sys/wrapping/{unwrap,rewrap} only, which do not come through here (run()).
    if (isWrappingToken(entry)) throw permissionDenied();
    if (entry.policies.includes('root')) return entry;
    const capability = await capabilityFor(req, route, match);
    // A LIST of "a/b" is a request on the folder "a/b/", which is what "a/b/*" rules are written for.
    const aclPath = req.operation === 'list' ? `${req.path}/` : req.path;
    const acl = await deps.authorizer.check(entry, aclPath, capability, match?.def.sudo === true, req.rawInput);
    if (!acl.allowed || !wrappingAllowed(acl, req.wrapTtl)) throw permissionDenied();
    return entry;
  }

  async function dispatch(req: PipelineRequest, route: RouteMatch, match: PathMatch | null, caller: Caller | null): Promise<PipelineResult> {
    const mount = route.mounted.info;
    if (!match) throw new AppError('not_found', `unsupported path "${req.path.slice(0, 200)}"`);
    const handler = match.def.operations[req.operation];
    if (!handler) throw new AppError('unsupported_operation', `unsupported operation "${req.operation}" on "${req.path.slice(0, 200)}"`);
    const params = handler.params ? handler.params.safeParse(match.params) : { success: true as const, data: match.params };
    if (!params.success) {
      const [first, ...more] = formatIssues(params.error);
      throw new AppError('bad_request', first ?? 'invalid path parameter', more);
    }
    // Vault's input rules (null is unset, "true"/"3600" strings, comma lists), for every engine alike.
    const input = normalizeVaultInput(handler.input, req.rawInput);
    const parsed = handler.input.safeParse(input);
    if (!parsed.success) {
      const [first, ...more] = formatIssues(parsed.error);
      throw new AppError('bad_request', first ?? 'invalid input', more);
    }
    if (match.def.issuesLeases) await deps.leases.assertQuotaRoom(req.path);
    const response = await handler.handle({ ...engineRequest(req, route, match, caller, parsed.data), params: params.data });
    if (response.login) response.auth = await mintLoginToken(req.path, mount, response.login);
    if (response.lease) {
      const leased = await deps.leases.register(mount, route.rest, response.lease, caller?.accessor ?? null);
      response.leased = { id: leased.id, duration: leased.duration, renewable: leased.renewable };
      if (leased.warnings.length > 0) response.warnings = [...(response.warnings ?? []), ...leased.warnings];
    }
    for (const e of response.events ?? []) void deps.publish?.({ type: e.type, path: `${mount.path}${e.path ?? route.rest}`, version: e.version });
    const writes = req.operation === 'update' || req.operation === 'patch';
    const ignored = writes ? unknownFields(handler.input, input) : [];
    if (ignored.length > 0) {
      const warning = `Endpoint ignored these unrecognized parameters: [${ignored.slice(0, 20).map((k) => k.slice(0, 64)).join(' ')}]`;
      response.warnings = [...(response.warnings ?? []), warning];
    }
    return { response, mount };
  }

  async function run(req: PipelineRequest, trail: AuditTrail): Promise<PipelineResult> {
    const route = deps.mounts.route(req.path);
    const sealed = deps.barrier.isSealed();
    if (!route) {
      if (sealed) throw new AppError('sealed', 'sealbox is sealed');
      // Only a valid token learns that a mount does not exist: others cannot map the mount table.
      const entry = req.token ? await deps.tokens.lookup(req.token) : null;
      trail.token = entry;
      if (!entry && !req.internal) throw permissionDenied();
      throw new AppError('not_found', `no handler for route "${req.path.slice(0, 200)}": route entry not found`);
    }
    trail.mount = route.mounted.info;
    const match = route.mounted.match(route.rest);
    if (sealed && !match?.def.whileSealed) throw new AppError('sealed', 'sealbox is sealed');
    if (match?.def.unauthenticated || req.internal) {
      await readInput(req, trail, req.internal === true);
      return dispatch(req, route, match, null);
    }
    if (match?.def.wrappingTokenAuth && req.token) {
      // The token may come in the body (read under the unauthenticated budget) or be the client token.
      await readInput(req, trail, false);
    }
    if (match?.def.wrappingTokenAuth && req.token && !hasToken(req.rawInput)) {
      // The client token is the wrapping token: the handler checks and spends it; the audit names its accessor.
      trail.token = await deps.tokens.lookup(req.token);
      return dispatch(req, route, match, null);
    }

    const entry = await authenticate(req, route, match, trail);
    const use = await deps.tokens.spendUse(entry);
    if (use === 'none') throw permissionDenied();
    const caller: Caller = { accessor: entry.accessor, policies: entry.policies, displayName: entry.displayName };
    if (entry.alias) caller.identity = `${entry.alias.mountAccessor}:${entry.alias.name}`;
    try {
      return await dispatch(req, route, match, caller);
    } finally {
      if (use === 'last') await deps.tokens.revoke(entry.accessor);
    }
  }

  /** Wraps a response the client asked to be wrapped, before it is audited (the audit sees only wrap_info, token HMAC'd). */
  async function wrap(req: PipelineRequest, result: PipelineResult): Promise<PipelineResult> {
    if (!deps.wrapping) throw new AppError('bad_request', 'response wrapping is not available');
    if (!req.wrapTtl || !wrappable(result.response)) return result;
    const response = await deps.wrapping.wrap(result.response, {
      ttl: req.wrapTtl,
      creationPath: req.path,
      requestId: req.requestId,
      mountType: result.mount.type,
    });
    return { ...result, response };
  }

  return {
    /** Runs the request, then records it (denials and errors too) before anyone sees the answer: fail closed. */
    async handle(req: PipelineRequest): Promise<PipelineResult> {
      const hmac = deps.audit?.begin(req.path) ?? null;
      const trail: AuditTrail = {
        time: deps.clock.now(),
        requestId: req.requestId,
        operation: req.operation,
        path: req.path,
        remoteAddress: req.remoteAddress,
        rawInput: req.rawInput,
        mount: null,
        token: null,
        response: null,
        error: null,
      };
      let result: PipelineResult | null = null;
      try {
        result = await run(req, trail);
        if (req.wrapTtl) result = await wrap(req, result);
        trail.response = result.response;
      } catch (err) {
        trail.error = err;
      }
      if (deps.audit && hmac) {
        try {
          await deps.audit.record(trail, hmac);
        } catch (err) {
          // Storage unreachable (a failover, a partition): the client may retry, so 503, not 500 (issue 21).
          throw err instanceof AppError && err.code === 'unavailable' ? err : new AppError('internal', 'internal error');
        }
      }
      if (!result) throw trail.error;
      return result;
    },
  };
}

export type Pipeline = ReturnType<typeof createPipeline>;
