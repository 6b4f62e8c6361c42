import { z } from 'zod';
import { badRequest, notFound } from '../../lib/errors.ts';
import { op, withParams, type MountInfo, type PathDef } from '../engine.ts';
import { mountAccessor, type MountTable } from '../mounts/mounts.ts';
import { applyMountConfig, mountConfigFields, mountConfigInput, renderMountConfig } from './mount-config.ts';

const byPath = withParams(z.object({ path: z.string() }));

export const mountWire = (m: MountInfo) => ({
  type: m.type,
  description: m.description,
  accessor: mountAccessor(m),
  uuid: m.id,
  config: renderMountConfig(m.config),
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
  config: mountConfigInput.nullable().optional(),
  options: z.record(z.string(), z.unknown()).nullable().optional(),
  local: z.boolean().optional(),
  seal_wrap: z.boolean().optional(),
  external_entropy_access: z.boolean().optional(),
});

/** Vault's tune body: the config fields at the top level, plus description and options. */
const tuneBody = z.object({
  ...mountConfigFields,
  description: z.string().max(1024).nullable().optional(),
  options: z.record(z.string(), z.unknown()).nullable().optional(),
});

/** Type aliases Vault users type: "kv-v2" is kv with options.version=2; "generic" is Vault's old name of kv (v1). */
function canonicalType(type: string, options: Record<string, unknown>): { type: string; options: Record<string, unknown> } {
  if (type === 'kv-v2') return { type: 'kv', options: { ...options, version: '2' } };
  if (type === 'generic') return { type: 'kv', options: { version: '1', ...options } };
  return { type, options };
}

/** sys/mounts and sys/auth: list, enable, tune and disable secrets engines and auth methods. */
export function sysMountsPaths(deps: { mounts: MountTable }): PathDef[] {
  const paths = (cls: 'secret' | 'auth', prefix: string): PathDef[] => {
    const find = (path: string): MountInfo | undefined => {
      const want = `${cls === 'auth' ? 'auth/' : ''}${path.replace(/\/+$/, '')}/`;
      return deps.mounts.list(cls).find((x) => x.path === want);
    };
    // Enabling, tuning and disabling auth methods is root-protected in Vault; secrets engines are not.
    const sudo = cls === 'auth';
    return [
      {
        pattern: prefix,
        operations: { read: op(z.object({}), async () => ({ data: listWire(deps.mounts.list(cls), cls === 'auth' ? 'auth/' : '') })) },
      },
      {
        // Before `${prefix}/*path`, as in Vault: a path ending in "/tune" is the tune endpoint of the mount before it.
        pattern: `${prefix}/*path/tune`,
        overrides: [`${prefix}/*path`],
        sudo,
        operations: {
          read: byPath.op(z.object({}), async ({ params }) => {
            const m = find(params.path);
            if (!m) throw notFound();
            const options = Object.keys(m.options).length > 0 ? m.options : null;
            return { data: { description: m.description, options, ...renderMountConfig(m.config) } };
          }),
          update: byPath.op(tuneBody, async ({ params, input }) => {
            // force_no_cache is set when mounting only: Vault's tune ignores it, and its client always sends false.
            const { description, options, force_no_cache: _mountOnly, ...config } = input;
            await deps.mounts.tune(params.path, cls, (cur) => {
              // A KV mount's stored layout follows its version: it is chosen when mounting and never changes.
              if (options && options.version !== undefined && options.version !== null && String(options.version) !== String(cur.options.version ?? '')) {
                throw badRequest('options.version cannot be changed on an existing mount: mount a new one and copy the secrets');
              }
              return {
              description: description ?? cur.description,
              config: applyMountConfig(cur.config, config),
              options: options ? { ...cur.options, ...options } : cur.options,
              };
            });
            return {};
          }),
        },
      },
      {
        pattern: `${prefix}/*path`,
        sudo,
        operations: {
          read: byPath.op(z.object({}), async ({ params }) => {
            const m = find(params.path);
            if (!m) throw notFound();
            return { data: mountWire(m) };
          }),
          update: byPath.op(mountBody, async ({ params, input }) => {
            // Read back as false: a mount that asked for them is refused rather than made without them.
            if (input.seal_wrap === true) throw badRequest('seal_wrap: seal wrapping is not supported (sealbox encrypts all storage with its barrier key): send false');
            if (input.external_entropy_access === true) throw badRequest('external_entropy_access: not supported (sealbox has no external entropy source): send false');
            const t = canonicalType(input.type, input.options ?? {});
            await deps.mounts.mount({
              path: params.path,
              class: cls,
              type: t.type,
              description: input.description ?? '',
              config: applyMountConfig({}, input.config ?? {}, 'config.'),
              options: t.options,
            });
            return {};
          }),
          delete: byPath.op(z.object({}), async ({ params }) => {
            await deps.mounts.unmount(params.path, cls);
            return {};
          }),
        },
      },
    ];
  };
  const auth = paths('auth', 'auth');
  // Vault also tunes auth methods at sys/mounts/auth/<path>/tune (Terraform's auth backend resources do): first, so it wins.
  const authTune = auth.find((d) => d.pattern === 'auth/*path/tune');
  return [...(authTune ? [{ ...authTune, pattern: 'mounts/auth/*path/tune', overrides: ['mounts/*path/tune', 'mounts/*path'] }] : []), ...paths('secret', 'mounts'), ...auth];
}
