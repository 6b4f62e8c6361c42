/**
 * sys/audit and sys/audit/:path: Vault's audit-device API, as Terraform's vault_audit resource and `vault audit
 * enable|list|disable` use it. sealbox audits every request into its PostgreSQL log (and the SEALBOX_AUDIT_FILE
 * sink, when configured) whatever devices exist; the devices here are RECORDED (sealed in core storage) so that the
 * tools round-trip what they wrote. A `file` device whose file_path is the configured audit file is marked as
 * served by that sink; no other path is opened.
 */
import { z } from 'zod';
import { AppError, badRequest } from '../../lib/errors.ts';
import { boolField } from '../../lib/role-token-fields.ts';
import { op, withParams, type EngineStorage, type PathDef } from '../engine.ts';

const byPath = withParams(z.object({ path: z.string() }));

interface AuditDevice {
  path: string;
  type: string;
  description: string;
  options: Record<string, string>;
  local: boolean;
}

const TYPES = ['file', 'syslog', 'socket', 'http'];
const SEGMENT = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;

const enableBody = z.object({
  type: z.string().min(1).max(32),
  description: z.string().max(1024).nullable().optional(),
  options: z.record(z.string(), z.union([z.string().max(4096), z.number(), z.boolean()])).nullable().optional(),
  local: boolField.nullable().optional(),
});

function devicePath(raw: string): string {
  const trimmed = raw.replace(/^\/+|\/+$/g, '');
  const segs = trimmed.split('/');
  if (trimmed === '' || segs.length > 4 || !segs.every((s) => SEGMENT.test(s))) throw badRequest(`invalid audit device path "${trimmed.slice(0, 80)}"`);
  return `${trimmed}/`;
}

const key = (path: string): string => `audit-devices/${encodeURIComponent(path)}`;

const wire = (d: AuditDevice) => ({ type: d.type, description: d.description, options: d.options, local: d.local, path: d.path });

export function sysAuditDevicesPaths(deps: { storage: EngineStorage; auditFile?: string }): PathDef[] {
  const { storage } = deps;
  const all = async (): Promise<AuditDevice[]> => {
    const keys = (await storage.list('audit-devices/')).map((k) => `audit-devices/${k}`);
    const values = await storage.getMany(keys);
    return keys.flatMap((k) => {
      const v = values.get(k);
      return v ? [JSON.parse(v.toString('utf8')) as AuditDevice] : [];
    });
  };
  return [
    {
      // Root-protected in Vault.
      pattern: 'audit',
      sudo: true,
      operations: {
        read: op(z.object({}), async () => {
          const devices = await all();
          return { data: Object.fromEntries(devices.sort((a, b) => a.path.localeCompare(b.path)).map((d) => [d.path, wire(d)])) };
        }),
      },
    },
    {
      pattern: 'audit/*path',
      sudo: true,
      operations: {
        update: byPath.op(enableBody, async ({ params, input }) => {
          const path = devicePath(params.path);
          if (!TYPES.includes(input.type)) throw badRequest(`unknown audit device type "${input.type.slice(0, 32)}"`);
          const options = Object.fromEntries(Object.entries(input.options ?? {}).map(([k, v]) => [k, String(v)]));
          if (input.type === 'file' && !options.file_path) throw badRequest('file_path is required');
          if (input.type === 'file' && deps.auditFile && options.file_path === deps.auditFile) options.sealbox_sink = 'SEALBOX_AUDIT_FILE';
          const device: AuditDevice = { path, type: input.type, description: input.description ?? '', options, local: input.local ?? false };
          await storage.locked(key(path), async (s) => {
            if (await s.get(key(path))) throw new AppError('bad_request', `path already in use at ${path}`);
            await s.put(key(path), Buffer.from(JSON.stringify(device), 'utf8'));
          });
          return {};
        }),
        delete: byPath.op(z.object({}), async ({ params }) => {
          await storage.delete([key(devicePath(params.path))]);
          return {};
        }),
      },
    },
  ];
}
