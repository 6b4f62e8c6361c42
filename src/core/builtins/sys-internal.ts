import { z } from 'zod';
import { permissionDenied } from '../../lib/errors.ts';
import { mountWire } from './sys-mounts.ts';
import { op, withParams, type Caller, type Operation, type PathDef } from '../engine.ts';
import type { MountTable } from '../mounts/mounts.ts';

const byPath = withParams(z.object({ path: z.string() }));

const METHOD: Record<Operation, string> = { read: 'get', list: 'get', update: 'post', delete: 'delete', patch: 'patch' };

/** Vault-style OpenAPI path: "data/*path" under "secret/" → "/secret/data/{path}". */
const openApiPath = (mountPath: string, pattern: string): string =>
  `/${mountPath}${pattern}`.replace(/\/$/, '').replace(/[:*]([A-Za-z_]+)/g, '{$1}');

/**
 * sys/plugins/catalog lists the engine types that can be mounted; sys/internal/specs/openapi describes every
 * path of every mount, which is what the deny battery walks (and what Vault clients use for discovery).
 */
export function sysInternalPaths(deps: { mounts: MountTable; mountAccess: (caller: Caller, mountPath: string) => Promise<boolean> }): PathDef[] {
  return [
    {
      // What `vault kv …` asks first to learn the mount of a path and its KV version. Vault's default policy grants it,
      // and, as in Vault, it answers only for a mount the token has some capability on: 403 alike for no such mount and
      // for a mount out of reach, so that it cannot map the mount table.
      pattern: 'internal/ui/mounts/*path',
      operations: {
        read: byPath.op(z.object({}), async ({ params, caller }) => {
          const route = deps.mounts.route((params.path).replace(/\/+$/, ''));
          if (!route || !caller || !(await deps.mountAccess(caller, route.mounted.info.path))) throw permissionDenied();
          const m = route.mounted.info;
          return { data: { path: m.path, ...mountWire(m) } };
        }),
      },
    },
    {
      pattern: 'plugins/catalog',
      operations: {
        read: op(z.object({}), async () => ({ data: { auth: deps.mounts.types('auth'), secret: deps.mounts.types('secret') } })),
      },
    },
    {
      pattern: 'internal/specs/openapi',
      operations: {
        read: op(z.object({}), async () => {
          const paths: Record<string, unknown> = {};
          for (const m of deps.mounts.engines()) {
            for (const def of m.engine.paths) {
              const ops = Object.keys(def.operations) as Operation[];
              const entry: Record<string, unknown> = {
                'x-sealbox-operations': ops,
                'x-vault-unauthenticated': def.unauthenticated === true,
                'x-vault-sudo': def.sudo === true,
                ...(def.wrappingTokenAuth ? { 'x-sealbox-wrapping-token': true } : {}),
              };
              for (const o of ops) entry[METHOD[o]] = { operationId: `${o}-${m.info.path}${def.pattern}` };
              paths[openApiPath(m.info.path, def.pattern)] = entry;
            }
          }
          return { raw: { status: 200 }, data: { openapi: '3.0.2', info: { title: 'sealbox', version: '1' }, paths } };
        }),
      },
    },
  ];
}
