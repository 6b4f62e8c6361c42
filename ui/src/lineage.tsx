import { useEffect, useState } from 'preact/hooks';
import { call, errorText } from './api.ts';

type Obj = Record<string, unknown>;
const KINDS = [
  ['username', 'Database username'],
  ['serial', 'Certificate serial'],
  ['lease_id', 'Lease ID'],
  ['accessor', 'Token accessor'],
  ['value_hmac', 'Value HMAC (from sys/audit-hash)'],
] as const;
const obj = (v: unknown): Obj | null => (v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Obj) : null);
const s = (v: unknown): string => (v === null || v === undefined ? '—' : typeof v === 'string' ? v : JSON.stringify(v));

function Seq(props: { seq: unknown }) {
  return typeof props.seq === 'number' ? <a href={`#/audit?seq=${props.seq}`}>seq {props.seq}</a> : <span>—</span>;
}

function TokenItems(props: { token: Obj; label: string }) {
  const t = props.token;
  const login = obj(t.login);
  const parent = obj(t.parent);
  const meta = obj(login?.alias_metadata) ?? {};
  return (
    <>
      {login && (
        <li class="step login" data-testid="lineage-login">
          <h3>Login: {s(login.path)}</h3>
          <p>
            {s(login.time)} · method {s(login.method)} · role {s(login.role)} · from {s(login.remote_address)} · <Seq seq={login.seq} />
          </p>
          <p>
            Alias <strong>{s(login.alias_name)}</strong>
          </p>
          <dl class="kv">
            {Object.entries(meta).map(([k, v]) => (
              <>
                <dt key={`k-${k}`}>{k}</dt>
                <dd key={`v-${k}`}>{s(v)}</dd>
              </>
            ))}
          </dl>
        </li>
      )}
      {parent && <TokenItems token={parent} label="Parent token" />}
      <li class="step token" data-testid="lineage-token">
        <h3>
          {props.label} {s(t.accessor)}
        </h3>
        <p>
          {s(t.display_name)} · policies {(t.policies as string[] | undefined)?.join(', ') ?? '—'} · created {s(t.created_at)} · {s(t.state)} · {s(t.requests)} requests
        </p>
      </li>
    </>
  );
}

/** A lineage answer as a timeline: login → token → credential → lease (renewals, revocation) → rotation. */
export function Timeline(props: { d: Obj }) {
  const { d } = props;
  const c = obj(d.credential);
  const lease = obj(d.lease);
  const rot = obj(d.rotation);
  const token = obj(d.token);
  const holders = (d.holders as { reads: number[]; token: Obj }[] | undefined) ?? [];
  return (
    <ol class="timeline" aria-label="Lineage timeline">
      {token && <TokenItems token={token} label="Token" />}
      {holders.map((h, i) => (
        <TokenItems key={i} token={h.token} label={`Held by token (reads ${h.reads.join(', ')})`} />
      ))}
      {rot && (
        <li class="step rotation">
          <h3>Rotation {s(rot.id)}</h3>
          <p>
            In force: {obj(rot.in_force) ? `run ${s(obj(rot.in_force)?.run_id)} (${s(obj(rot.in_force)?.kind)}) finished ${s(obj(rot.in_force)?.finished_at)}` : 'the password before any run'}
            {obj(obj(rot.in_force)?.triggered_by) && (
              <>
                {' '}
                · started by {s(obj(obj(rot.in_force)?.triggered_by)?.display_name)} <Seq seq={obj(obj(rot.in_force)?.triggered_by)?.seq} />
              </>
            )}
          </p>
          {obj(rot.next) && <p>Replaced by run {s(obj(rot.next)?.run_id)} at {s(obj(rot.next)?.finished_at)}</p>}
        </li>
      )}
      {c && (
        <li class="step credential" data-testid="lineage-credential">
          <h3>
            Credential: {s(c.type)} {s(c.path)}
          </h3>
          <p>
            engine {s(c.engine)} · role {s(c.role)} · issued {s(c.issued_at)} · <Seq seq={c.issued_seq} />
          </p>
          {obj(c.revoked_by) && (
            <p>
              Revoked {s(obj(c.revoked_by)?.time)} by {s(obj(c.revoked_by)?.display_name)} <Seq seq={obj(c.revoked_by)?.seq} />
            </p>
          )}
        </li>
      )}
      {lease && (
        <li class="step lease" data-testid="lineage-lease">
          <h3>Lease {s(lease.id)}</h3>
          <p>
            {s(lease.state)} · issued {s(lease.issued_at)} · expires {s(lease.expires_at)} · last renewed {s(lease.last_renewed_at)}
            {lease.live_at !== undefined && <> · live at the given time: {s(lease.live_at)}</>}
          </p>
          {obj(lease.revoked_by) && (
            <p>
              Revoked {s(obj(lease.revoked_by)?.time)} by {s(obj(lease.revoked_by)?.display_name)} ({s(obj(lease.revoked_by)?.accessor)}) <Seq seq={obj(lease.revoked_by)?.seq} />
            </p>
          )}
        </li>
      )}
      <li class="step seqs">
        <h3>Audit entries</h3>
        <p class="seq-list">
          {((d.audit_seqs as number[] | undefined) ?? []).map((n) => (
            <a key={n} href={`#/audit?seq=${n}`}>
              {n}
            </a>
          ))}
        </p>
      </li>
    </ol>
  );
}

export function LineagePage(props: { params: URLSearchParams }) {
  const initial = KINDS.find(([k]) => props.params.has(k));
  const [kind, setKind] = useState<string>(initial?.[0] ?? 'username');
  const [value, setValue] = useState(initial ? (props.params.get(initial[0]) ?? '') : '');
  const [at, setAt] = useState(props.params.get('at') ?? '');
  const [answer, setAnswer] = useState<Obj | null>(null);
  const [error, setError] = useState('');
  const ask = async (k: string, v: string, when: string) => {
    setError('');
    setAnswer(null);
    try {
      setAnswer((await call('GET', 'sys/audit-log/lineage', { query: { [k]: v, at: when || undefined } })).data);
    } catch (e) {
      setError(errorText(e));
    }
  };
  useEffect(() => {
    const first = KINDS.find(([k]) => props.params.has(k));
    if (!first) return;
    const v = props.params.get(first[0]) ?? '';
    setKind(first[0]);
    setValue(v);
    void ask(first[0], v, props.params.get('at') ?? '');
  }, [props.params.toString()]);
  return (
    <div class="page">
      <h1>Lineage</h1>
      <form
        class="filters"
        aria-label="Ask for a credential's lineage"
        onSubmit={(e) => {
          e.preventDefault();
          void ask(kind, value.trim(), at.trim());
        }}
      >
        <p>
          <label for="l-kind">Look up by</label>
          <select id="l-kind" value={kind} onChange={(e) => setKind((e.currentTarget as HTMLSelectElement).value)}>
            {KINDS.map(([k, label]) => (
              <option key={k} value={k}>
                {label}
              </option>
            ))}
          </select>
        </p>
        <p>
          <label for="l-value">Value</label>
          <input id="l-value" value={value} onInput={(e) => setValue((e.currentTarget as HTMLInputElement).value)} required />
        </p>
        <p>
          <label for="l-at">At (RFC 3339, optional)</label>
          <input id="l-at" value={at} onInput={(e) => setAt((e.currentTarget as HTMLInputElement).value)} />
        </p>
        <p class="actions">
          <button type="submit">Show lineage</button>
        </p>
      </form>
      {error && <p role="alert" class="error">{error}</p>}
      {answer && <Timeline d={answer} />}
    </div>
  );
}
