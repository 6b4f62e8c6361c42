import { call } from './api.ts';

export interface MountInfo {
  /** With its trailing slash, as a lease ID starts: "database/", "auth/approle/". */
  path: string;
  type: string;
  kind: 'secret' | 'auth';
}

/** Secret engines that never issue leases (their reads are not credentials with a lifetime). */
const LEASELESS = new Set(['kv', 'cubbyhole', 'system', 'identity', 'transit', 'ns_system']);

/** The mounts the token may read from sys/mounts and sys/auth; a list it may not read is left out (not an error). */
export async function listMounts(): Promise<MountInfo[]> {
  const read = async (p: string, kind: MountInfo['kind']): Promise<MountInfo[]> => {
    try {
      const data = (await call<Record<string, unknown>>('GET', p)).data;
      return Object.entries(data)
        .filter(([, v]) => v !== null && typeof v === 'object' && typeof (v as { type?: unknown }).type === 'string')
        .map(([k, v]) => ({ path: `${kind === 'auth' ? 'auth/' : ''}${k.endsWith('/') ? k : `${k}/`}`, type: (v as { type: string }).type, kind }));
    } catch {
      return [];
    }
  };
  const [secret, auth] = await Promise.all([read('sys/mounts', 'secret'), read('sys/auth', 'auth')]);
  return [...secret, ...auth].sort((a, b) => a.path.localeCompare(b.path));
}

/** Mounts whose credentials or logins carry leases: every auth method (its tokens), secret engines other than the above. */
export const issuesLeases = (m: MountInfo): boolean => m.kind === 'auth' ? m.type !== 'token' : !LEASELESS.has(m.type);
