import { ApiError, UsageError } from './errors.ts';
import type { Client } from './http.ts';
import { isObject } from './secret-output.ts';

/**
 * `sealbox kv` takes paths such as `secret/app/db`; the API wants `secret/data/app/db` for a KV v2 mount. Like
 * `vault kv`, ask the broker which mount holds the path and its KV version (GET sys/internal/ui/mounts/<path>, allowed by
 * the default policy), or take the mount from `-mount`. When the lookup is refused or finds nothing, the first segment
 * is taken as a KV v2 mount (sealbox's KV is v2) and the real request reports what is wrong.
 */
export interface KvPath {
  /** The mount, with its trailing slash: "secret/". */
  readonly mount: string;
  /** The secret's path inside the mount: "app/db" (may be "" for the mount's root, in a list). */
  readonly rel: string;
  readonly v2: boolean;
}

export type KvPart = 'data' | 'metadata' | 'delete' | 'undelete' | 'destroy';

const trimSlashes = (s: string): string => s.replace(/^\/+/, '').replace(/\/+$/, '');

export async function resolveKvPath(client: Client, input: string, mountFlag: string | undefined): Promise<KvPath> {
  if (mountFlag !== undefined) {
    const mount = trimSlashes(mountFlag);
    if (mount === '') throw new UsageError('flag -mount needs a mount path, such as secret');
    return { mount: `${mount}/`, rel: input.replace(/^\/+/, ''), v2: true };
  }
  const path = input.replace(/^\/+/, '');
  if (trimSlashes(path) === '') throw new UsageError('missing PATH (such as secret/app/db)');
  try {
    const res = await client.request('GET', `sys/internal/ui/mounts/${path}`);
    const data = isObject(res.body) && isObject(res.body.data) ? res.body.data : undefined;
    const mount = typeof data?.path === 'string' ? trimSlashes(data.path) : '';
    if (data && mount !== '' && (path === mount || path.startsWith(`${mount}/`))) {
      const options = isObject(data.options) ? data.options : {};
      const v2 = String(options.version ?? '') === '2' || data.type === 'kv-v2';
      return { mount: `${mount}/`, rel: path.slice(mount.length + 1), v2 };
    }
  } catch (e) {
    // Unreachable broker or a sealed one: say so now. A refusal or a missing mount: guess, and let the real request tell.
    if (!(e instanceof ApiError) || e.status === null || e.status >= 500) throw e;
  }
  const slash = path.indexOf('/');
  return slash < 0 ? { mount: `${path}/`, rel: '', v2: true } : { mount: path.slice(0, slash + 1), rel: path.slice(slash + 1), v2: true };
}

/** The API path of one of a KV v2 secret's endpoints; on a KV v1 mount the secret's own path. */
export function kvApiPath(p: KvPath, part: KvPart): string {
  return p.v2 ? `${p.mount}${part}/${p.rel}` : `${p.mount}${p.rel}`;
}

/** The path as the user wrote it, for messages: "secret/app/db". */
export const kvDisplay = (p: KvPath): string => `${p.mount}${p.rel}`;

/** KV v1 has no versions nor metadata: those commands fail clearly instead of writing to odd paths. */
export function requireV2(p: KvPath, what: string): void {
  if (!p.v2) throw new UsageError(`${what} needs a KV version 2 mount; ${p.mount} is version 1`);
}
