import { useEffect, useState } from 'preact/hooks';
import { call, can, capabilities, errorText } from './api.ts';
import { issuesLeases, listMounts } from './mounts.ts';

/** Leases listed per mount at most (LIST sys/leases/lookup, folder by folder), and looked up for their time left. */
const MAX_LISTED = 2000;
const MAX_LOOKED_UP = 200;

interface MountRow {
  path: string;
  type: string;
  count: number;
  /** The listing stopped at MAX_LISTED. */
  capped: boolean;
  soon: number;
  /** How many of the leases were looked up for their time left (the rest are not counted in `soon`). */
  looked: number;
  irrevocable: number;
  canRevoke: boolean;
}

/** Every lease ID under a prefix (ending in "/"), walking the folders LIST sys/leases/lookup/<prefix> returns. */
async function leaseIds(prefix: string, out: string[]): Promise<void> {
  if (out.length >= MAX_LISTED) return;
  let keys: string[] = [];
  try {
    keys = (await call<{ keys: string[] }>('GET', `sys/leases/lookup/${prefix}`, { query: { list: 'true' } })).data.keys ?? [];
  } catch (e) {
    if (String(errorText(e)).startsWith('404')) return;
    throw e;
  }
  for (const k of keys) {
    if (out.length >= MAX_LISTED) return;
    if (k.endsWith('/')) await leaseIds(`${prefix}${k}`, out);
    else out.push(`${prefix}${k}`);
  }
}

async function loadRows(soonSeconds: number): Promise<MountRow[]> {
  const mounts = (await listMounts()).filter(issuesLeases);
  const caps = await capabilities([...mounts.flatMap((m) => [`sys/leases/lookup/${m.path}`, `sys/leases/revoke-prefix/${m.path}`]), 'sys/leases/lookup', 'sys/leases']);
  let irrevocable: string[] = [];
  if (can(caps['sys/leases'], 'read', 'sudo')) {
    try {
      irrevocable = ((await call<{ leases?: { lease_id: string }[] }>('GET', 'sys/leases', { query: { type: 'irrevocable' } })).data.leases ?? []).map((l) => l.lease_id);
    } catch {
      irrevocable = [];
    }
  }
  const listable = mounts.filter((m) => can(caps[`sys/leases/lookup/${m.path}`], 'list'));
  return Promise.all(
    listable.map(async (m): Promise<MountRow> => {
      const ids: string[] = [];
      await leaseIds(m.path, ids);
      const sample = can(caps['sys/leases/lookup'], 'update') ? ids.slice(0, MAX_LOOKED_UP) : [];
      const ttls = await Promise.all(
        sample.map((id) =>
          call<{ ttl: number }>('PUT', 'sys/leases/lookup', { body: { lease_id: id } }).then(
            (r) => Number(r.data.ttl),
            () => Number.POSITIVE_INFINITY, // revoked meanwhile
          ),
        ),
      );
      return {
        path: m.path,
        type: m.type,
        count: ids.length,
        capped: ids.length >= MAX_LISTED,
        soon: ttls.filter((t) => t < soonSeconds).length,
        looked: sample.length,
        irrevocable: irrevocable.filter((id) => id.startsWith(m.path)).length,
        canRevoke: can(caps[`sys/leases/revoke-prefix/${m.path}`], 'update', 'sudo'),
      };
    }),
  );
}

/** Leases by mount: count, expiring soon, irrevocable, and revoke-prefix behind the page's confirmation. */
export function LeasesByMount(props: { soonSeconds: number; reload: number; ask: (text: string, run: () => Promise<unknown>) => void }) {
  const [rows, setRows] = useState<MountRow[] | null>(null);
  const [error, setError] = useState('');
  useEffect(() => {
    loadRows(props.soonSeconds).then(
      (r) => {
        setRows(r);
        setError('');
      },
      (e) => setError(errorText(e)),
    );
  }, [props.reload]);
  if (error) return <p role="alert" class="error">{error}</p>;
  if (!rows || rows.length === 0) return null;
  return (
    <div class="table-wrap">
      <table aria-label="Leases by mount">
        <thead>
          <tr>
            <th scope="col">Mount</th>
            <th scope="col">Type</th>
            <th scope="col">Leases</th>
            <th scope="col">Expiring within {Math.round(props.soonSeconds / 60)} min</th>
            <th scope="col">Irrevocable</th>
            <th scope="col">Actions</th>
          </tr>
        </thead>
        <tbody>
          {rows.map((r) => (
            <tr key={r.path} data-mount={r.path}>
              <td class="path">{r.path}</td>
              <td>{r.type}</td>
              <td data-col="count">
                {r.count}
                {r.capped ? '+' : ''}
              </td>
              <td data-col="soon" class={r.soon > 0 ? 'denied' : ''}>
                {r.soon}
                {r.looked < r.count ? ` (of ${r.looked} looked up)` : ''}
              </td>
              <td data-col="irrevocable" class={r.irrevocable > 0 ? 'denied' : ''}>
                {r.irrevocable}
              </td>
              <td class="actions">
                {r.canRevoke && r.count > 0 && (
                  <button type="button" aria-label={`Revoke every lease under ${r.path}`} onClick={() => props.ask(`Revoke every lease under ${r.path}?`, () => call('PUT', `sys/leases/revoke-prefix/${r.path}`))}>
                    Revoke all
                  </button>
                )}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
