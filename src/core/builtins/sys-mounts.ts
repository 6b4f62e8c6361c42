import { z } from 'zod';
import { notFound } from '../../lib/errors.ts';
import { op, type MountInfo, type PathDef } from '../engine.ts';
import { mountAccessor, type MountTable } from '../mounts.ts';

const mountWire = (m: MountInfo) => ({
  type: m.type,
  description: m.description,
  accessor: mountAccessor(m),
  uuid: m.id,
  config: { default_lease_ttl: 0, max_lease_ttl: 0, ...m.config },
  options: Object.keys(m.options).length > 0 ? m.options : null,
  local: false,
  seal_wrap: false,
  external_entropy_access: false,
});

const listWire = (mounts: MountInfo[], strip: string) =>
  Object.fromEntries(mounts.map((m) => [m.path.slice(strip.length), mountWire(m)]));

const mountBody = z.object({
  type: z.string().min(1).max(64),
  description: z.string().max(1024).optional(),
  config: z.record(z.string(), z.unknown()).optional(),
  options: z.record(z.string(), z.unknown()).nullable().optional(),
  local: z.boolean().optional(),
  seal_wrap: z.boolean().optional(),
});

/** Type aliases Vault users type: "kv-v2" is kv with options.version=2. */
function canonicalType(type: string, options: Record<string, unknown>): { type: string; options: Record<string, unknown> } {
  if (type === 'kv-v2') return { type: 'kv', options: { ...options, version: '2' } };
  return { type, options };
}

/** sys/mounts and sys/auth: list, enable and disable secrets engines and auth methods. */
export function sysMountsPaths(deps: { mounts: () => MountTable }): PathDef[] {
  const paths = (cls: 'secret' | 'auth', prefix: string): PathDef[] => [
    {
      pattern: prefix,
      operations: { read: op(z.object({}), async () => ({ data: listWire(deps.mounts().list(cls), cls === 'auth' ? 'auth/' : '') })) },
    },
    {
      pattern: `${prefix}/*path`,
      // Enabling and disabling auth methods is root-protected in Vault; secrets engines are not.
      sudo: cls === 'auth',
      operations: {
        read: op(z.object({}), async ({ params }) => {
          const want = `${cls === 'auth' ? 'auth/' : ''}${(params.path ?? '').replace(/\/+$/, '')}/`;
          const m = deps.mounts().list(cls).find((x) => x.path === want);
          if (!m) throw notFound();
          return { data: mountWire(m) };
        }),
        update: op(mountBody, async ({ params, input }) => {
          const t = canonicalType(input.type, input.options ?? {});
          await deps.mounts().mount({
            path: params.path ?? '',
            class: cls,
            type: t.type,
            description: input.description ?? '',
            config: input.config ?? {},
            options: t.options,
          });
          return {};
        }),
        delete: op(z.object({}), async ({ params }) => {
          await deps.mounts().unmount(params.path ?? '', cls);
          return {};
        }),
      },
    },
  ];
  return [...paths('secret', 'mounts'), ...paths('auth', 'auth')];
}
