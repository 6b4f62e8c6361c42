import { z } from 'zod';
import { parseDuration } from '../../lib/durations.ts';
import { AppError, badRequest, notFound, permissionDenied } from '../../lib/errors.ts';
import { op, type AuthResponse, type EngineRequest, type EngineStorage, type PathDef } from '../engine.ts';
import type { TokenEntry, Tokens } from '../tokens/tokens.ts';
import { RESPONSE_WRAPPING_POLICY } from '../tokens/wrapping.ts';
import { loadTokenRole, rolePolicies, tokenRolePaths, type TokenRole } from './token-roles.ts';

/** At most this many accessors in one LIST auth/token/accessors. */
const MAX_ACCESSORS = 100_000;

const duration = z.union([z.string().max(32), z.number()]).optional();
const dur = (v: string | number | undefined, field: string): number => (v === undefined ? 0 : parseDuration(v, field));

const createBody = z.object({
  id: z.string().min(1).max(256).optional(),
  policies: z.array(z.string().min(1).max(128)).max(64).optional(),
  meta: z.record(z.string(), z.string().max(1024)).optional(),
  no_parent: z.boolean().optional(),
  no_default_policy: z.boolean().optional(),
  renewable: z.boolean().optional(),
  ttl: duration,
  explicit_max_ttl: duration,
  period: duration,
  display_name: z.string().max(128).optional(),
  num_uses: z.number().int().min(0).max(1_000_000).optional(),
  entity_alias: z.string().optional(),
  // The Go client always sends "type": "".
  // Vault also takes "batch"; sealbox issues service tokens only.
  type: z.enum(['service', ''], { error: 'only "service" tokens are supported (batch tokens are not)' }).optional(),
});

const tokenBody = z.object({ token: z.string().min(1).max(256) });
const accessorBody = z.object({ accessor: z.string().min(1).max(128) });
const increment = z.object({ increment: duration });

/** auth/token/*: Vault's token store endpoints. */
export function tokenPaths(deps: {
  tokens: Tokens;
  /** Whether the token holds sudo on auth/token/create (then its children may hold any policies, and be orphans). */
  canSudo: (token: TokenEntry) => boolean | Promise<boolean>;
  /** The token mount's sealed storage (token roles). */
  storage: EngineStorage;
}): PathDef[] {
  const { tokens } = deps;

  const authWire = (token: string, e: TokenEntry): AuthResponse => tokens.authResponse(token, e);

  const lookupWire = (e: TokenEntry, id: string) => ({
    accessor: e.accessor,
    creation_time: Math.floor(e.createdAt.getTime() / 1000),
    creation_ttl: e.creationTtl,
    display_name: e.displayName,
    entity_id: '',
    expire_time: e.expiresAt ? e.expiresAt.toISOString() : null,
    explicit_max_ttl: e.explicitMaxTtl,
    id,
    issue_time: e.createdAt.toISOString(),
    meta: Object.keys(e.meta).length > 0 ? e.meta : null,
    num_uses: Math.max(0, e.numUses),
    orphan: e.orphan,
    path: e.path,
    period: e.period > 0 ? e.period : undefined,
    policies: e.policies,
    renewable: e.renewable,
    ttl: tokens.remainingTtl(e),
    type: 'service',
    ...(e.lastRenewalAt ? { last_renewal_time: Math.floor(e.lastRenewalAt.getTime() / 1000), last_renewal: e.lastRenewalAt.toISOString() } : {}),
  });

  /** The caller's own token, as the pipeline authenticated it (also while its last use is being spent). */
  const self = async (req: EngineRequest): Promise<{ token: string; entry: TokenEntry }> => {
    const token = req.clientToken;
    const entry = token && req.caller ? await tokens.lookupAccessor(req.caller.accessor) : null;
    if (!token || !entry) throw permissionDenied();
    return { token, entry };
  };
  /** Vault's handleLookup answers an unknown or revoked token with 403 "bad token"; handleRenew with 400 "token not found". */
  const byToken = async (token: string, lookup = false): Promise<TokenEntry> => {
    const entry = await tokens.lookup(token);
    if (!entry) throw lookup ? new AppError('permission_denied', 'bad token') : badRequest('token not found');
    return entry;
  };
  const byAccessor = async (accessor: string): Promise<TokenEntry> => {
    const entry = await tokens.lookupAccessor(accessor);
    if (!entry) throw badRequest('invalid accessor');
    return entry;
  };

  const create = (orphanPath: boolean, withRole: boolean) =>
    op(createBody, async (req) => {
      const parent = req.caller ? await tokens.lookupAccessor(req.caller.accessor) : null;
      if (!parent) throw permissionDenied();
      const isRootParent = parent.policies.includes('root');
      if (req.input.id !== undefined && !isRootParent) throw badRequest('id: only a root token can choose a token id');
      let role: TokenRole | null = null;
      if (withRole) {
        role = await loadTokenRole(deps.storage, req.params.role ?? '');
        if (!role) throw badRequest(`unknown role ${(req.params.role ?? '').slice(0, 128)}`);
      }
      const sudo = await deps.canSudo(parent);
      if (!role && (orphanPath || req.input.no_parent === true) && !sudo) throw permissionDenied();
      const fromRole = role ? rolePolicies(role, req.input.policies, req.input.no_default_policy === true, parent.policies) : null;
      const requested = req.input.policies ?? parent.policies.filter((p) => p !== 'root' || isRootParent);
      const noDefault = req.input.no_default_policy === true || role?.noDefaultPolicy === true;
      const policies = fromRole ?? [...requested, ...(noDefault || requested.includes('root') ? [] : ['default'])];
      if (policies.includes(RESPONSE_WRAPPING_POLICY)) throw badRequest(`cannot assign the ${RESPONSE_WRAPPING_POLICY} policy to a token`);
      const alias = req.input.entity_alias;
      if (alias !== undefined && alias !== '' && !role?.allowedEntityAliases.some((a) => a === alias || a === '*')) {
        throw badRequest("invalid 'entity_alias' value");
      }
      const requestedPeriod = dur(req.input.period, 'period');
      const requestedMax = dur(req.input.explicit_max_ttl, 'explicit_max_ttl');
      const caps = [requestedMax, role?.explicitMaxTtl ?? 0].filter((n) => n > 0);
      const basePath = role ? `auth/token/create/${role.name}` : orphanPath ? 'auth/token/create-orphan' : 'auth/token/create';
      const { token, entry } = await tokens.create(parent, {
        id: req.input.id,
        policies,
        ttl: dur(req.input.ttl, 'ttl'),
        explicitMaxTtl: caps.length > 0 ? Math.min(...caps) : 0,
        period: role && role.period > 0 ? role.period : requestedPeriod,
        numUses: role && role.numUses > 0 ? Math.min(role.numUses, req.input.num_uses || role.numUses) : (req.input.num_uses ?? 0),
        renewable: (req.input.renewable ?? true) && (role?.renewable ?? true),
        displayName: `token${req.input.display_name ? `-${req.input.display_name}` : ''}`,
        meta: req.input.meta ?? {},
        orphan: role ? role.orphan : orphanPath || req.input.no_parent === true,
        path: role?.pathSuffix ? `${basePath}/${role.pathSuffix}` : basePath,
        // A role's allowed list is the grant: its tokens may hold policies the parent lacks (never root), as in Vault.
        allowAnyPolicies: sudo || fromRole !== null,
        identity:
          alias !== undefined && alias !== '' && role
            ? { entityName: alias, alias: { mountAccessor: 'token_token', mountType: 'token', name: alias, metadata: {} } }
            : undefined,
      });
      return { auth: authWire(token, entry) };
    });

  const lookupSelf = op(z.object({}), async (req) => {
    const { token, entry } = await self(req);
    return { data: lookupWire(entry, token) };
  });
  // Vault's handleLookup: an empty or absent token means the caller's own (read, or update with {"token": ""}).
  const lookupAny = op(z.object({ token: z.string().max(256).optional() }), async (req) => {
    const asked = req.input.token ?? '';
    if (asked === '') {
      const { token, entry } = await self(req);
      return { data: lookupWire(entry, token) };
    }
    return { data: lookupWire(await byToken(asked, true), asked) };
  });
  const renewSelf = op(increment, async (req) => {
    const { token, entry } = await self(req);
    return { auth: authWire(token, await tokens.renew(entry, dur(req.input.increment, 'increment'))) };
  });
  const noContent = async (): Promise<{ warnings?: string[] }> => ({});

  return [
    { pattern: 'create', operations: { update: create(false, false) } },
    { pattern: 'create/:role', operations: { update: create(false, true) } },
    { pattern: 'create-orphan', sudo: true, operations: { update: create(true, false) } },
    ...tokenRolePaths(deps.storage),
    {
      pattern: 'accessors',
      sudo: true,
      operations: {
        list: op(z.object({}), async () => {
          const keys = await tokens.listAccessors(MAX_ACCESSORS + 1);
          if (keys.length === 0) throw notFound();
          const warnings = keys.length > MAX_ACCESSORS ? [`only the first ${MAX_ACCESSORS} accessors are listed`] : undefined;
          return { data: { keys: keys.slice(0, MAX_ACCESSORS) }, warnings };
        }),
      },
    },
    {
      pattern: 'renew-accessor',
      operations: {
        update: op(accessorBody.extend(increment.shape), async ({ input }) => {
          const renewed = await tokens.renew(await byAccessor(input.accessor), dur(input.increment, 'increment'));
          return { auth: { ...authWire('', renewed) } };
        }),
      },
    },
    { pattern: 'lookup-self', needsToken: true, operations: { read: lookupSelf, update: lookupSelf } },
    {
      pattern: 'lookup',
      // The caller's own token is looked up when the body names none.
      needsToken: true,
      operations: { read: lookupAny, update: lookupAny },
    },
    {
      pattern: 'lookup-accessor',
      operations: { update: op(accessorBody, async ({ input }) => ({ data: lookupWire(await byAccessor(input.accessor), '') })) },
    },
    { pattern: 'renew-self', needsToken: true, operations: { update: renewSelf } },
    {
      pattern: 'renew',
      operations: {
        update: op(tokenBody.extend(increment.shape), async ({ input }) => ({
          auth: authWire(input.token, await tokens.renew(await byToken(input.token), dur(input.increment, 'increment'))),
        })),
      },
    },
    {
      pattern: 'revoke-self',
      needsToken: true,
      operations: {
        update: op(z.object({}), async (req) => {
          const { entry } = await self(req);
          await tokens.revoke(entry.accessor);
          return noContent();
        }),
      },
    },
    {
      pattern: 'revoke',
      operations: {
        update: op(tokenBody, async ({ input }) => {
          const entry = await tokens.lookup(input.token);
          if (entry) await tokens.revoke(entry.accessor);
          return noContent();
        }),
      },
    },
    {
      pattern: 'revoke-accessor',
      operations: {
        update: op(accessorBody, async ({ input }) => {
          if ((await tokens.revoke(input.accessor)) === 0) throw notFound();
          return noContent();
        }),
      },
    },
  ];
}
