import { useEffect, useState } from 'preact/hooks';
import { call, callText, errorText } from './api.ts';
import { Histogram } from './histogram.tsx';

export interface AuditEntry {
  seq: number;
  time: string;
  operation: string;
  path: string;
  outcome: string;
  accessor: string | null;
  lease_id?: string | null;
  response?: { data?: Record<string, unknown> | null } | null;
  [k: string]: unknown;
}

const FILTERS = [
  ['since', 'Since (RFC 3339 or 24h)', 'text'],
  ['until', 'Until', 'text'],
  ['path_prefix', 'Path prefix', 'text'],
  ['accessor', 'Accessor', 'text'],
] as const;

/** Where an entry's lineage starts: its lease, the credential it named (by HMAC), or its token. */
export function lineageLink(e: AuditEntry): string | null {
  const data = e.response?.data ?? null;
  const hmac = data && (typeof data.username === 'string' ? data.username : typeof data.serial_number === 'string' ? data.serial_number : null);
  if (typeof hmac === 'string' && hmac.startsWith('hmac-sha256:')) return `#/lineage?value_hmac=${encodeURIComponent(hmac)}`;
  if (e.lease_id) return `#/lineage?lease_id=${encodeURIComponent(e.lease_id)}`;
  if (e.accessor) return `#/lineage?accessor=${encodeURIComponent(e.accessor)}`;
  return null;
}

/** A signed checkpoint's origin, size and the names on its signature lines (the log's own first, then witnesses). */
export function checkpointSigners(note: string): { origin: string; size: string; signers: string[] } {
  const cut = note.lastIndexOf('\n\n');
  const body = cut < 0 ? note : note.slice(0, cut);
  const [origin = '', size = ''] = body.split('\n');
  const signers = (cut < 0 ? '' : note.slice(cut + 2))
    .split('\n')
    .map((l) => /^\u2014 (\S+) /u.exec(l)?.[1])
    .filter((n): n is string => n !== undefined);
  return { origin, size, signers };
}

function Verify() {
  const [state, setState] = useState<Record<string, unknown> | null>(null);
  const [checkpoint, setCheckpoint] = useState('');
  const [witnessKeys, setWitnessKeys] = useState('');
  const [error, setError] = useState('');
  const run = async (e: Event) => {
    e.preventDefault();
    setError('');
    setState(null);
    setCheckpoint('');
    try {
      const keys = witnessKeys.split(/[\s,]+/).filter((k) => k !== '').join(',');
      const verified = (await call('GET', 'sys/audit-log/verify', { query: { witness_keys: keys || undefined } })).data;
      // No checkpoint signed yet is a 404: shown as such, beside the verify result (both appear together).
      const note = await callText('sys/audit-log/checkpoint').catch(() => '');
      setCheckpoint(note);
      setState(verified);
    } catch (err) {
      setError(errorText(err));
    }
  };
  const witnessed = Object.entries((state?.witnessed_through as Record<string, number> | undefined) ?? {});
  const problems = (state?.problems as string[] | undefined) ?? [];
  const cp = checkpoint ? checkpointSigners(checkpoint) : null;
  const cosigners = cp ? cp.signers.filter((n) => n !== cp.origin) : [];
  return (
    <section aria-labelledby="verify-h">
      <h2 id="verify-h">Chain and tree</h2>
      <form class="filters" onSubmit={run} aria-label="Verify the audit log">
        <p>
          <label for="v-witness">Witness keys (verifier keys, optional)</label>
          <input id="v-witness" value={witnessKeys} onInput={(e) => setWitnessKeys((e.currentTarget as HTMLInputElement).value)} />
        </p>
        <p class="actions">
          <button type="submit">Verify the log</button>
        </p>
      </form>
      {error && <p role="alert" class="error">{error}</p>}
      {state && (
        <dl class="kv" data-testid="verify">
          <dt>Verifies</dt>
          <dd class={state.ok ? 'ok' : 'denied'}>{state.ok ? 'yes' : `no: first bad seq ${String(state.first_bad_seq)}`}</dd>
          <dt>Entries checked</dt>
          <dd>{String(state.checked)}</dd>
          <dt>Tree size</dt>
          <dd>{String(state.tree_size)}</dd>
          <dt>Signed through</dt>
          <dd>{String(state.signed_through)}</dd>
          <dt>Witnessed through</dt>
          <dd data-testid="witnessed">{witnessed.length === 0 ? 'no witness key given' : witnessed.map(([name, size]) => `${name}: ${size}`).join(', ')}</dd>
          {problems.length > 0 && (
            <>
              <dt>Problems</dt>
              <dd class="denied">{problems.join('; ')}</dd>
            </>
          )}
        </dl>
      )}
      {state && (
        <dl class="kv" data-testid="checkpoint">
          <dt>Latest checkpoint</dt>
          <dd>{cp ? `size ${cp.size}, signed by ${cp.signers[0] ?? '—'}` : 'none signed yet'}</dd>
          <dt>Witness cosignatures</dt>
          <dd>{cp ? (cosigners.length > 0 ? cosigners.join(', ') : 'none') : '—'}</dd>
        </dl>
      )}
      {checkpoint && (
        <details>
          <summary>Latest signed checkpoint</summary>
          <pre>{checkpoint}</pre>
        </details>
      )}
    </section>
  );
}

export function AuditPage(props: { params: URLSearchParams }) {
  const [entries, setEntries] = useState<AuditEntry[]>([]);
  const [next, setNext] = useState<number | null>(null);
  const [open, setOpen] = useState<AuditEntry | null>(null);
  const [error, setError] = useState('');
  const [query, setQuery] = useState<Record<string, string>>({});

  const search = async (q: Record<string, string>) => {
    setError('');
    setQuery(q);
    try {
      const r = await call<{ entries: AuditEntry[]; next: number | null }>('GET', 'sys/audit-log', { query: q });
      setEntries(r.data.entries);
      setNext(r.data.next);
      setOpen(r.data.entries.length === 1 && q.limit === '1' ? (r.data.entries[0] ?? null) : null);
    } catch (e) {
      setEntries([]);
      setError(errorText(e));
    }
  };
  // "#/audit?seq=N" (from a lineage answer) opens entry N.
  useEffect(() => {
    const seq = props.params.get('seq');
    if (seq && /^\d+$/.test(seq)) void search({ after: String(Number(seq) - 1), limit: '1' });
  }, [props.params.get('seq')]);

  const submit = (e: Event) => {
    e.preventDefault();
    const form = new FormData(e.currentTarget as HTMLFormElement);
    const q: Record<string, string> = {};
    for (const [k, v] of form.entries()) if (String(v).trim() !== '') q[k] = String(v).trim();
    void search(q);
  };
  const exportResult = () => {
    const blob = new Blob([entries.map((e) => JSON.stringify(e)).join('\n') + '\n'], { type: 'application/x-ndjson' });
    const a = document.createElement('a');
    a.href = URL.createObjectURL(blob);
    a.download = `sealbox-audit-${entries[0]?.seq ?? 0}-${entries.at(-1)?.seq ?? 0}.jsonl`;
    a.click();
    URL.revokeObjectURL(a.href);
  };

  return (
    <div class="page">
      <h1>Audit log</h1>
      <form class="filters" onSubmit={submit} aria-label="Search the audit log">
        {FILTERS.map(([name, label]) => (
          <p key={name}>
            <label for={`f-${name}`}>{label}</label>
            <input id={`f-${name}`} name={name} />
          </p>
        ))}
        <p>
          <label for="f-operation">Operation</label>
          <select id="f-operation" name="operation">
            <option value="">any</option>
            {['read', 'list', 'update', 'delete', 'patch'].map((o) => (
              <option key={o}>{o}</option>
            ))}
          </select>
        </p>
        <p>
          <label for="f-outcome">Outcome</label>
          <select id="f-outcome" name="outcome">
            <option value="">any</option>
            {['success', 'denied', 'client_error', 'server_error'].map((o) => (
              <option key={o}>{o}</option>
            ))}
          </select>
        </p>
        <p>
          <label for="f-limit">Page size</label>
          <input id="f-limit" name="limit" type="number" min="1" max="1000" defaultValue="100" />
        </p>
        <p class="actions">
          <button type="submit">Search</button>
          <button type="button" onClick={exportResult} disabled={entries.length === 0}>
            Export result
          </button>
        </p>
      </form>
      {error && <p role="alert" class="error">{error}</p>}
      <Histogram points={entries} />
      <div class="table-wrap">
        <table aria-label="Audit entries">
          <thead>
            <tr>
              <th scope="col">Seq</th>
              <th scope="col">Time</th>
              <th scope="col">Operation</th>
              <th scope="col">Path</th>
              <th scope="col">Outcome</th>
              <th scope="col">Entry</th>
            </tr>
          </thead>
          <tbody>
            {entries.map((e) => (
              <tr key={e.seq} class={`outcome-${e.outcome}`} data-seq={e.seq}>
                <td>{e.seq}</td>
                <td>{e.time}</td>
                <td>{e.operation}</td>
                <td class="path">{e.path}</td>
                <td>{e.outcome}</td>
                <td>
                  <button type="button" onClick={() => setOpen(e)} aria-label={`Open entry ${e.seq}`}>
                    Open
                  </button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      {next !== null && (
        <button type="button" onClick={() => void search({ ...query, after: String(next) })}>
          Next page
        </button>
      )}
      {open && (
        <section class="entry" aria-labelledby="entry-h">
          <h2 id="entry-h">Entry {open.seq}</h2>
          {lineageLink(open) && <a href={lineageLink(open) ?? '#'}>Follow to lineage</a>}
          <button type="button" onClick={() => setOpen(null)}>
            Close entry
          </button>
          <pre data-testid="entry-json">{JSON.stringify(open, null, 2)}</pre>
        </section>
      )}
      <Verify />
    </div>
  );
}
