import { useEffect, useRef, useState } from 'preact/hooks';
import { call, can, capabilities, errorText } from './api.ts';
import { LeasesByMount } from './lease-mounts.tsx';

type Obj = Record<string, unknown>;
/** A lease with less time left than this (seconds) is expiring soon. */
const SOON = 15 * 60;
const s = (v: unknown): string => (v === null || v === undefined ? '—' : typeof v === 'string' ? v : JSON.stringify(v));

/** A confirmation in the page (a modal <dialog>): the destructive action runs only on "Confirm". */
function Confirm(props: { text: string; onConfirm: () => void; onCancel: () => void }) {
  const ref = useRef<HTMLDialogElement>(null);
  useEffect(() => {
    ref.current?.showModal();
  }, []);
  return (
    <dialog ref={ref} aria-labelledby="confirm-text" onCancel={props.onCancel}>
      <p id="confirm-text">{props.text}</p>
      <button type="button" onClick={props.onConfirm}>
        Confirm
      </button>
      <button type="button" onClick={props.onCancel}>
        Cancel
      </button>
    </dialog>
  );
}

/** "2026-01-02T12:00:01.234Z" → "12:00:01" (UTC, as the rest of the history shows times). */
const clock = (at: string): string => /T(\d\d:\d\d:\d\d)/.exec(at)?.[1] ?? at;

/** A run's steps in order, each with its time; a run from before steps were kept shows only its last step. */
function RunSteps(props: { run: Obj }) {
  const steps = Array.isArray(props.run.steps) ? (props.run.steps as unknown[]).filter((x): x is Obj => typeof x === 'object' && x !== null) : [];
  if (steps.length === 0) return <span>{s(props.run.step)}</span>;
  return (
    <ol class="run-steps" aria-label={`Steps of run ${s(props.run.run_id)}`}>
      {steps.map((st, i) => {
        const at = s(st.at);
        const failed = st.status === 'failed';
        return (
          <li key={i} class={failed ? 'error' : undefined} title={failed ? s(st.error) : undefined}>
            {s(st.step)}
            {failed ? ' (failed)' : ''} <time dateTime={at}>{clock(at)}</time>
          </li>
        );
      })}
    </ol>
  );
}

function Rotations(props: { say: (m: string) => void }) {
  const [rows, setRows] = useState<Obj[]>([]);
  const [caps, setCaps] = useState<Record<string, string[]>>({});
  const [history, setHistory] = useState<{ id: string; runs: Obj[] } | null>(null);
  const [error, setError] = useState('');
  const load = async () => {
    try {
      const list = (await call<{ rotations: Obj[] }>('GET', 'sys/rotations')).data.rotations ?? [];
      setRows(list);
      const ids = list.map((r) => String(r.id));
      setCaps(await capabilities(ids.flatMap((id) => [`sys/rotations/${id}/run`, `sys/rotations/${id}`, `sys/rotations/${id}/history`])));
      setError('');
    } catch (e) {
      setError(errorText(e));
    }
  };
  useEffect(() => {
    void load();
  }, []);
  const act = async (what: string, fn: () => Promise<unknown>) => {
    try {
      await fn();
      props.say(what);
      await load();
    } catch (e) {
      props.say(`${what} failed: ${errorText(e)}`);
    }
  };
  return (
    <section aria-labelledby="rot-h">
      <h2 id="rot-h">Rotations</h2>
      {error && <p role="alert" class="error">{error}</p>}
      <div class="table-wrap">
        <table aria-label="Rotations">
          <thead>
            <tr>
              <th scope="col">Rotation</th>
              <th scope="col">Schedule</th>
              <th scope="col">Next run</th>
              <th scope="col">Last run</th>
              <th scope="col">Last result</th>
              <th scope="col">Actions</th>
            </tr>
          </thead>
          <tbody>
            {rows.map((r) => {
              const id = String(r.id);
              return (
                <tr key={id} data-rotation={id}>
                  <td class="path">{id}</td>
                  <td>{s(r.schedule)}</td>
                  <td>{r.paused ? 'paused' : s(r.next_run_at)}</td>
                  <td>{s(r.last_run_at)}</td>
                  <td class={r.last_status === 'failed' ? 'denied' : ''}>
                    {s(r.last_status)}
                    {r.last_error ? `: ${s(r.last_error)}` : ''}
                  </td>
                  <td class="actions">
                    {can(caps[`sys/rotations/${id}/run`], 'update', 'sudo') && (
                      <button type="button" onClick={() => act(`rotated ${id}`, () => call('POST', `sys/rotations/${id}/run`))}>
                        Run now
                      </button>
                    )}
                    {can(caps[`sys/rotations/${id}`], 'update', 'sudo') && (
                      <button type="button" onClick={() => act(`${r.paused ? 'resumed' : 'paused'} ${id}`, () => call('PUT', `sys/rotations/${id}`, { body: { paused: !r.paused } }))}>
                        {r.paused ? 'Resume' : 'Pause'}
                      </button>
                    )}
                    {can(caps[`sys/rotations/${id}/history`], 'read', 'sudo') && (
                      <button
                        type="button"
                        onClick={async () => {
                          try {
                            setHistory({ id, runs: (await call<{ runs: Obj[] }>('GET', `sys/rotations/${id}/history`)).data.runs });
                          } catch (e) {
                            props.say(errorText(e));
                          }
                        }}
                      >
                        History
                      </button>
                    )}
                  </td>
                </tr>
              );
            })}
          </tbody>
        </table>
      </div>
      {history && (
        <div class="table-wrap">
          <table aria-label={`Runs of ${history.id}`}>
            <caption>Runs of {history.id}</caption>
            <thead>
              <tr>
                <th scope="col">Run</th>
                <th scope="col">Kind</th>
                <th scope="col">Started</th>
                <th scope="col">Finished</th>
                <th scope="col">Status</th>
                <th scope="col">Steps (UTC)</th>
                <th scope="col">Error</th>
              </tr>
            </thead>
            <tbody>
              {history.runs.map((run) => (
                <tr key={s(run.run_id)}>
                  <td>{s(run.run_id)}</td>
                  <td>{s(run.kind)}</td>
                  <td>{s(run.started_at)}</td>
                  <td>{s(run.finished_at)}</td>
                  <td>{s(run.status)}</td>
                  <td>
                    <RunSteps run={run} />
                  </td>
                  <td>{s(run.error)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}

function Leases(props: { say: (m: string) => void }) {
  const [prefix, setPrefix] = useState('');
  const [keys, setKeys] = useState<string[]>([]);
  const [ttls, setTtls] = useState<Record<string, number>>({});
  const [count, setCount] = useState<Obj | null>(null);
  const [caps, setCaps] = useState<Record<string, string[]>>({});
  const [confirm, setConfirm] = useState<{ text: string; run: () => Promise<void> } | null>(null);
  const [error, setError] = useState('');
  const [reload, setReload] = useState(0);
  const norm = (p: string) => p.trim().replace(/^\/+/, '');
  const load = async (p: string) => {
    setError('');
    const pre = norm(p);
    try {
      const c = await capabilities(['sys/leases/revoke', `sys/leases/revoke-prefix/${pre}`, 'sys/leases/lookup']);
      setCaps(c);
      try {
        setCount((await call('GET', 'sys/leases', { query: { type: 'irrevocable' } })).data);
      } catch {
        setCount(null);
      }
      if (pre === '') return setKeys([]);
      try {
        const r = await call<{ keys: string[] }>('GET', `sys/leases/lookup/${pre.endsWith('/') ? pre : `${pre}/`}`, { query: { list: 'true' } });
        const ids = (r.data.keys ?? []).map((k) => `${pre.endsWith('/') ? pre : `${pre}/`}${k}`);
        setKeys(ids);
        // Time left on each lease (the first 50), for "expiring soon".
        const found: Record<string, number> = {};
        if (can(c['sys/leases/lookup'], 'update')) {
          await Promise.all(
            ids.filter((id) => !id.endsWith('/')).slice(0, 50).map(async (id) => {
              try {
                found[id] = Number((await call<{ ttl: number }>('PUT', 'sys/leases/lookup', { body: { lease_id: id } })).data.ttl);
              } catch {
                // revoked meanwhile
              }
            }),
          );
        }
        setTtls(found);
      } catch (e) {
        setKeys([]);
        if (!String(errorText(e)).startsWith('404')) throw e;
      }
    } catch (e) {
      setError(errorText(e));
    }
  };
  useEffect(() => {
    void load('');
  }, []);
  const ask = (text: string, run: () => Promise<unknown>) =>
    setConfirm({
      text,
      run: async () => {
        setConfirm(null);
        let said = '';
        try {
          await run();
          said = text.replace(/\?$/, '').replace(/^Revoke/, 'Revoked');
        } catch (e) {
          said = `failed: ${errorText(e)}`;
        }
        // Said once the list shows the effect, so that what the status announces is what the page shows.
        await load(prefix);
        setReload((n) => n + 1);
        props.say(said);
      },
    });
  const pre = norm(prefix);
  return (
    <section aria-labelledby="lease-h">
      <h2 id="lease-h">Leases</h2>
      <LeasesByMount soonSeconds={SOON} reload={reload} ask={ask} />
      {count && (
        <p data-testid="lease-count" class="wrap">
          {s(count.lease_count)} irrevocable leases{Array.isArray(count.leases) && count.leases.length > 0 ? `: ${(count.leases as Obj[]).map((l) => s(l.lease_id)).join(', ')}` : ''}
        </p>
      )}
      <form
        class="filters"
        aria-label="List leases under a prefix"
        onSubmit={(e) => {
          e.preventDefault();
          void load(prefix);
        }}
      >
        <p>
          <label for="lease-prefix">Lease prefix (mount and role, e.g. database/creds/app/)</label>
          <input id="lease-prefix" value={prefix} onInput={(e) => setPrefix((e.currentTarget as HTMLInputElement).value)} />
        </p>
        <p class="actions">
          <button type="submit">List leases</button>
          {pre !== '' && can(caps[`sys/leases/revoke-prefix/${pre}`], 'update', 'sudo') && (
            <button type="button" onClick={() => ask(`Revoke every lease under ${pre}?`, () => call('PUT', `sys/leases/revoke-prefix/${pre}`))}>
              Revoke prefix
            </button>
          )}
        </p>
      </form>
      {error && <p role="alert" class="error">{error}</p>}
      {keys.length > 0 && (
        <p data-testid="lease-summary">
          {keys.filter((k) => !k.endsWith('/')).length} leases under {pre}
          {Object.keys(ttls).length > 0 && `, ${Object.values(ttls).filter((v) => v < SOON).length} expiring within 15 minutes`}
        </p>
      )}
      <ul class="leases" aria-label="Leases">
        {keys.map((id) => (
          <li key={id} data-lease={id}>
            <span class="path">{id}</span>
            {ttls[id] !== undefined && <span class={ttls[id] < SOON ? 'denied' : ''}>expires in {Math.round(ttls[id] / 60)} min</span>}
            {id.endsWith('/') ? (
              <button type="button" onClick={() => { setPrefix(id); void load(id); }}>
                Open folder
              </button>
            ) : (
              <a href={`#/lineage?lease_id=${encodeURIComponent(id)}`}>Lineage</a>
            )}
            {!id.endsWith('/') && can(caps['sys/leases/revoke'], 'update') && (
              <button type="button" onClick={() => ask(`Revoke lease ${id}?`, () => call('PUT', 'sys/leases/revoke', { body: { lease_id: id } }))}>
                Revoke
              </button>
            )}
          </li>
        ))}
      </ul>
      {confirm && <Confirm text={confirm.text} onConfirm={() => void confirm.run()} onCancel={() => setConfirm(null)} />}
    </section>
  );
}

function Seal() {
  const [seal, setSeal] = useState<Obj | null>(null);
  const [keys, setKeys] = useState<Obj | null>(null);
  useEffect(() => {
    void call('GET', 'sys/seal-status', { auth: false }).then((r) => setSeal(r.body as Obj), () => setSeal(null));
    void call('GET', 'sys/key-status').then((r) => setKeys(r.data), () => setKeys(null));
  }, []);
  const rewrap = keys?.rewrap as Obj | undefined;
  return (
    <section aria-labelledby="seal-h">
      <h2 id="seal-h">Seal and keyring</h2>
      <dl class="kv" data-testid="seal">
        <dt>Sealed</dt>
        <dd>{s(seal?.sealed)}</dd>
        <dt>Seal type</dt>
        <dd>{s(seal?.type)}</dd>
        {keys && (
          <>
            <dt>Keyring term</dt>
            <dd>{s(keys.term)}</dd>
            <dt>Installed</dt>
            <dd>{s(keys.install_time)}</dd>
          </>
        )}
        {rewrap && (
          <>
            <dt>Rewrap progress</dt>
            <dd>
              {s(rewrap.done_values)} done, {s(rewrap.pending_values)} pending; old terms in use {s(rewrap.old_terms_in_use)}
            </dd>
            <dt>Retirable terms</dt>
            <dd>{s(rewrap.retirable_terms)}</dd>
          </>
        )}
      </dl>
    </section>
  );
}

export function OperationsPage() {
  const [message, setMessage] = useState('');
  return (
    <div class="page">
      <h1>Operations</h1>
      <p role="status" aria-live="polite" data-testid="status">
        {message}
      </p>
      <Rotations say={setMessage} />
      <Leases say={setMessage} />
      <Seal />
    </div>
  );
}
