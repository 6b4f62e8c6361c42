import { z } from 'zod';
import { badRequest, notFound, permissionDenied } from '../../lib/errors.ts';
import { op, withParams, type EngineRequest, type PathDef } from '../engine.ts';
import type { Policies } from '../policy/policies.ts';
import type { TokenEntry, Tokens } from '../tokens/tokens.ts';

/** Policy names are normalised (lower-cased, checked) by the policy store. */
const byName = withParams(z.object({ name: z.string() }));

const documentField = z.union([z.string().max(256 * 1024), z.record(z.string(), z.unknown())]).optional();
/**
 * Vault decodes a policy document that is valid standard base64 (Go's StdEncoding: padded, line breaks ignored) and
 * takes any other text as it is ("Policy can be base64 encoded to ease payload issues").
 */
export function decodeIfBase64(raw: string): string {
  const compact = raw.replace(/[\r\n]/g, '');
  if (compact.length === 0 || compact.length % 4 !== 0 || !/^[A-Za-z0-9+/]*={0,2}$/.test(compact)) return raw;
  return Buffer.from(compact, 'base64').toString('utf8');
}
const toText = (d: string | Record<string, unknown> | undefined): string | undefined =>
  typeof d === 'string' ? decodeIfBase64(d) : d ? JSON.stringify(d) : undefined;

const pathsInput = z.object({ path: z.string().max(1024).optional(), paths: z.array(z.string().max(1024)).max(100).optional() });

export interface SysPoliciesDeps {
  policies: Policies;
  tokens: Tokens;
  capabilities: (token: TokenEntry, path: string) => Promise<string[]>;
}

/** sys/policies/acl/*, sys/policy/* (the older form node-vault uses) and sys/capabilities*. */
export function sysPoliciesPaths(deps: SysPoliciesDeps): PathDef[] {
  const { policies, tokens } = deps;
  const list = op(z.object({}), async () => ({ data: { keys: await policies.list() } }));

  const capabilitiesOf = async (entry: TokenEntry, input: z.output<typeof pathsInput>) => {
    const paths = input.paths ?? (input.path !== undefined ? [input.path] : []);
    if (paths.length === 0) throw badRequest('paths: missing');
    const data: Record<string, unknown> = {};
    for (const p of paths) data[p] = await deps.capabilities(entry, p.replace(/^\/+/, ''));
    if (paths.length === 1) data.capabilities = data[paths[0] ?? ''];
    return { data };
  };
  const self = async (req: EngineRequest): Promise<TokenEntry> => {
    const entry = req.caller ? await tokens.lookupAccessor(req.caller.accessor) : null;
    if (!entry) throw permissionDenied();
    return entry;
  };

  return [
    { pattern: 'policies/acl', operations: { list, read: list } },
    {
      pattern: 'policies/acl/:name',
      operations: {
        read: byName.op(z.object({}), async ({ params }) => {
          const p = await policies.get(params.name);
          if (!p) throw notFound();
          return { data: { name: p.name, policy: p.document } };
        }),
        update: byName.op(z.object({ policy: documentField }), async ({ params, input }) => {
          const doc = toText(input.policy);
          if (doc === undefined) throw badRequest('policy: missing');
          await policies.put(params.name, doc);
          return {};
        }),
        delete: byName.op(z.object({}), async ({ params }) => {
          await policies.delete(params.name);
          return {};
        }),
      },
    },
    {
      pattern: 'policy',
      operations: {
        read: op(z.object({}), async () => {
          const names = await policies.list();
          return { data: { policies: names, keys: names } };
        }),
      },
    },
    {
      pattern: 'policy/:name',
      operations: {
        read: byName.op(z.object({}), async ({ params }) => {
          const p = await policies.get(params.name);
          if (!p) throw notFound();
          return { data: { name: p.name, rules: p.document } };
        }),
        update: byName.op(z.object({ rules: documentField, policy: documentField }), async ({ params, input }) => {
          const doc = toText(input.rules) ?? toText(input.policy);
          if (doc === undefined) throw badRequest('rules: missing');
          await policies.put(params.name, doc);
          return {};
        }),
        delete: byName.op(z.object({}), async ({ params }) => {
          await policies.delete(params.name);
          return {};
        }),
      },
    },
    {
      pattern: 'capabilities-self',
      operations: { update: op(pathsInput, async (req) => capabilitiesOf(await self(req), req.input)) },
    },
    {
      pattern: 'capabilities',
      operations: {
        update: op(pathsInput.extend({ token: z.string().min(1).max(256) }), async ({ input }) => {
          const entry = await tokens.lookup(input.token);
          if (!entry) throw badRequest('invalid token');
          return capabilitiesOf(entry, input);
        }),
      },
    },
    {
      pattern: 'capabilities-accessor',
      operations: {
        update: op(pathsInput.extend({ accessor: z.string().min(1).max(128) }), async ({ input }) => {
          const entry = await tokens.lookupAccessor(input.accessor);
          if (!entry) throw badRequest('invalid accessor');
          return capabilitiesOf(entry, input);
        }),
      },
    },
  ];
}
