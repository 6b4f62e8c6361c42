// sys/metrics (issue 9): the Prometheus text exposition parses under a strict parser (below), counters move with
// requests, labels stay bounded (mount paths, never request paths, tokens or lease ids), access is ACL-checked, and
// the lease and pool gauges follow a real dynamic database credential.
import test from 'ava';
import { startApp, type InProcessBroker as Broker } from './helpers/app.ts';
import { api } from './helpers/broker.ts';
import { startPostgres, withPgClient } from './helpers/postgres.ts';

// ---------------------------------------------------------------------------------------------------------------
// A strict parser for the Prometheus text exposition format 0.0.4
// (https://prometheus.io/docs/instrumenting/exposition_formats/). It throws on anything the format does not allow.
// ---------------------------------------------------------------------------------------------------------------

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

interface Family {
  name: string;
  type: string;
  help: string | undefined;
  samples: Sample[];
}

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const TYPES = new Set(['counter', 'gauge', 'histogram', 'summary', 'untyped']);
// Values are Go ParseFloat syntax: decimal floats, and NaN / Inf / Infinity in any letter case with an optional sign
// (prom-client writes "Nan", which Prometheus reads as NaN).
const FLOAT = /^[+-]?(?:\d+\.?\d*(?:[eE][+-]?\d+)?|\.\d+(?:[eE][+-]?\d+)?)$/;
const SPECIAL = /^(?:([+-]?)(inf|infinity)|[+-]?nan)$/i;

function parseValue(text: string, where: string): number {
  const special = SPECIAL.exec(text);
  if (special) return special[2] === undefined ? NaN : special[1] === '-' ? -Infinity : Infinity;
  if (!FLOAT.test(text)) throw new Error(`${where}: bad value "${text}"`);
  return Number(text);
}

/** Parses `{a="x",b="y\"z"}` starting at line[i] === '{'; returns the labels and the index after '}'. */
function parseLabels(line: string, start: number, where: string): { labels: Record<string, string>; end: number } {
  const labels: Record<string, string> = {};
  let i = start + 1;
  for (;;) {
    if (line[i] === '}') return { labels, end: i + 1 };
    const eq = line.indexOf('=', i);
    if (eq < 0) throw new Error(`${where}: label without '='`);
    const name = line.slice(i, eq);
    if (!LABEL_NAME.test(name) || name.startsWith('__')) throw new Error(`${where}: bad label name "${name}"`);
    if (name in labels) throw new Error(`${where}: duplicate label "${name}"`);
    if (line[eq + 1] !== '"') throw new Error(`${where}: label value must be quoted`);
    let j = eq + 2;
    let value = '';
    for (;;) {
      const c = line[j];
      if (c === undefined) throw new Error(`${where}: unterminated label value`);
      if (c === '"') break;
      if (c === '\\') {
        const e = line[j + 1];
        if (e === '\\') value += '\\';
        else if (e === '"') value += '"';
        else if (e === 'n') value += '\n';
        else throw new Error(`${where}: bad escape "\\${e ?? ''}"`);
        j += 2;
        continue;
      }
      value += c;
      j += 1;
    }
    labels[name] = value;
    i = j + 1;
    if (line[i] === ',') i += 1;
    else if (line[i] !== '}') throw new Error(`${where}: expected ',' or '}' after a label`);
  }
}

function familyOf(sampleName: string, families: Map<string, Family>): Family | undefined {
  const exact = families.get(sampleName);
  if (exact) return exact;
  for (const suffix of ['_bucket', '_sum', '_count']) {
    if (!sampleName.endsWith(suffix)) continue;
    const f = families.get(sampleName.slice(0, -suffix.length));
    if (f && (f.type === 'histogram' || (f.type === 'summary' && suffix !== '_bucket'))) return f;
  }
  return undefined;
}

function parsePrometheusText(text: string): Map<string, Family> {
  if (text.length > 0 && !text.endsWith('\n')) throw new Error('the exposition must end with a line feed');
  const families = new Map<string, Family>();
  const finished = new Set<string>();
  const seen = new Set<string>();
  let current: Family | undefined;
  const lines = text.split('\n');
  lines.pop();
  lines.forEach((line, n) => {
    const where = `line ${n + 1}`;
    if (line.trim() === '') return;
    if (line.startsWith('#')) {
      const m = /^# (HELP|TYPE) (\S+)(?: (.*))?$/.exec(line);
      if (!m) return; // a plain comment
      const [, kind, name = '', rest = ''] = m;
      if (!METRIC_NAME.test(name)) throw new Error(`${where}: bad metric name "${name}"`);
      let f = families.get(name);
      if (f && finished.has(name)) throw new Error(`${where}: metadata for "${name}" after its samples`);
      if (!f) {
        f = { name, type: 'untyped', help: undefined, samples: [] };
        families.set(name, f);
      }
      if (current && current !== f) finished.add(current.name);
      current = f;
      if (kind === 'TYPE') {
        if (!TYPES.has(rest)) throw new Error(`${where}: unknown type "${rest}"`);
        if (f.samples.length > 0) throw new Error(`${where}: TYPE after samples of "${name}"`);
        f.type = rest;
      } else {
        if (f.help !== undefined) throw new Error(`${where}: second HELP for "${name}"`);
        if (/\\(?![\\n])/.test(rest)) throw new Error(`${where}: bad escape in HELP`);
        f.help = rest;
      }
      return;
    }
    const nameEnd = line.search(/[{ ]/);
    if (nameEnd <= 0) throw new Error(`${where}: not a sample: "${line}"`);
    const name = line.slice(0, nameEnd);
    if (!METRIC_NAME.test(name)) throw new Error(`${where}: bad metric name "${name}"`);
    let labels: Record<string, string> = {};
    let i = nameEnd;
    if (line[i] === '{') ({ labels, end: i } = parseLabels(line, i, where));
    if (line[i] !== ' ') throw new Error(`${where}: expected a space before the value`);
    const parts = line.slice(i + 1).split(' ');
    if (parts.length < 1 || parts.length > 2 || parts.some((p) => p === '')) throw new Error(`${where}: expected "value [timestamp]"`);
    const value = parseValue(parts[0] ?? '', where);
    if (parts[1] !== undefined && !/^-?\d+$/.test(parts[1])) throw new Error(`${where}: bad timestamp`);
    let f = familyOf(name, families);
    if (!f) {
      f = { name, type: 'untyped', help: undefined, samples: [] };
      families.set(name, f);
    }
    if (finished.has(f.name)) throw new Error(`${where}: samples of "${f.name}" are not grouped together`);
    if (current && current !== f) finished.add(current.name);
    current = f;
    const key = `${name}${JSON.stringify(Object.entries(labels).sort())}`;
    if (seen.has(key)) throw new Error(`${where}: duplicate series ${key}`);
    seen.add(key);
    if (f.type === 'counter' && !(value >= 0)) throw new Error(`${where}: counter "${name}" is negative`);
    if (f.type === 'histogram' && name.endsWith('_bucket') && labels.le === undefined) throw new Error(`${where}: bucket without "le"`);
    f.samples.push({ name, labels, value });
  });
  for (const f of families.values()) if (f.type === 'histogram') checkHistogram(f);
  return families;
}

/** Buckets per series: cumulative, ending in le="+Inf", which equals _count. */
function checkHistogram(f: Family): void {
  const series = new Map<string, { les: number[]; counts: number[]; count?: number }>();
  const keyOf = (labels: Record<string, string>) => JSON.stringify(Object.entries(labels).filter(([k]) => k !== 'le').sort());
  for (const s of f.samples) {
    const k = keyOf(s.labels);
    const e = series.get(k) ?? { les: [], counts: [] };
    series.set(k, e);
    if (s.name === `${f.name}_bucket`) {
      e.les.push(parseValue(s.labels.le ?? '', `${f.name} le`));
      e.counts.push(s.value);
    } else if (s.name === `${f.name}_count`) e.count = s.value;
  }
  for (const [k, e] of series) {
    if (e.les.at(-1) !== Infinity) throw new Error(`${f.name}${k}: no le="+Inf" bucket`);
    for (let i = 1; i < e.les.length; i++) {
      if ((e.les[i] ?? 0) <= (e.les[i - 1] ?? 0)) throw new Error(`${f.name}${k}: buckets out of order`);
      if ((e.counts[i] ?? 0) < (e.counts[i - 1] ?? 0)) throw new Error(`${f.name}${k}: buckets not cumulative`);
    }
    if (e.count !== e.counts.at(-1)) throw new Error(`${f.name}${k}: _count differs from the +Inf bucket`);
  }
}

// ---------------------------------------------------------------------------------------------------------------

async function scrape(b: Broker, token?: string): Promise<{ text: string; families: Map<string, Family>; contentType: string | null }> {
  const r = await api(b, 'GET', 'sys/metrics?format=prometheus', token === undefined ? {} : { token });
  if (r.status !== 200) throw new Error(`metrics: ${r.status} ${r.text}`);
  return { text: r.text, families: parsePrometheusText(r.text), contentType: r.headers.get('content-type') };
}

/** The sum of a family's samples named `sample` whose labels include `match`. */
function sum(families: Map<string, Family>, family: string, sample: string, match: Record<string, string> = {}): number {
  const f = families.get(family);
  if (!f) return 0;
  return f.samples
    .filter((s) => s.name === sample && Object.entries(match).every(([k, v]) => s.labels[k] === v))
    .reduce((a, s) => a + s.value, 0);
}

const labelValues = (families: Map<string, Family>, label: string): Set<string> =>
  new Set([...families.values()].flatMap((f) => f.samples.map((s) => s.labels[label]).filter((v): v is string => v !== undefined)));

test('the strict parser rejects what the exposition format does not allow', (t) => {
  t.notThrows(() => parsePrometheusText('# HELP a_total A.\n# TYPE a_total counter\na_total{x="1"} 3\n\nb 1.5e3\nc Nan\nd -Inf\n'));
  t.true(Number.isNaN(parsePrometheusText('c Nan\n').get('c')?.samples[0]?.value));
  const bad = [
    'a 1', // no final line feed
    'a{x="1} 2\n', // unterminated value
    'a{x=1} 2\n', // unquoted value
    'a{x="1",x="2"} 2\n', // duplicate label
    'a{1x="1"} 2\n', // bad label name
    'a one\n', // bad value
    'a 0x1g\n', // bad value
    'a nann\n', // bad value
    '9a 1\n', // bad metric name
    'a 1\na 2\n', // duplicate series
    '# TYPE a counter\na -1\n', // negative counter
    '# TYPE a gauge\na 1\nb 1\na{y="2"} 1\n', // samples not grouped
    '# TYPE a histogram\na_bucket{le="1"} 2\na_bucket{le="+Inf"} 1\na_count 1\na_sum 1\n', // not cumulative
    '# TYPE a histogram\na_bucket{le="1"} 1\na_count 1\na_sum 1\n', // no +Inf
    '# TYPE a foo\n', // unknown type
  ];
  for (const text of bad) t.throws(() => parsePrometheusText(text), undefined, JSON.stringify(text));
});

test('sys/metrics: valid exposition, counters move by mount, bounded labels, JSON form, ACL-checked', async (t) => {
  const b = await startApp();
  t.teardown(() => b.stop());
  let r = await api(b, 'POST', 'secret/data/app/config', { body: { data: { password: 'metrics-secret-value' } } });
  t.is(r.status, 200, r.text);

  const before = await scrape(b);
  t.regex(before.contentType ?? '', /^text\/plain; version=0\.0\.4/);
  const count = (f: Map<string, Family>) => sum(f, 'sealbox_request_duration_seconds', 'sealbox_request_duration_seconds_count', { mount: 'secret/', operation: 'read', status: '200' });
  for (let i = 0; i < 5; i++) t.is((await api(b, 'GET', 'secret/data/app/config')).status, 200);
  t.is((await api(b, 'GET', 'secret/data/nope')).status, 404);
  t.is((await api(b, 'GET', 'no-such-mount/x')).status, 404);
  const after = await scrape(b);
  t.true(count(after.families) - count(before.families) >= 5, `${count(before.families)} → ${count(after.families)}`);
  t.true(sum(after.families, 'sealbox_request_duration_seconds', 'sealbox_request_duration_seconds_count', { mount: 'secret/', status: '404' }) >= 1);
  t.true(sum(after.families, 'sealbox_request_duration_seconds', 'sealbox_request_duration_seconds_count', { mount: 'none' }) >= 1);
  const family = after.families.get('sealbox_request_duration_seconds');
  t.is(family?.type, 'histogram');

  // Bounded labels: mount paths only; no request path, token or secret anywhere in the output.
  for (const m of labelValues(after.families, 'mount')) t.true(m === 'none' || /^[A-Za-z0-9_.\-/]+\/$/.test(m), m);
  t.false(after.text.includes('app/config'));
  t.false(after.text.includes('data/nope'));
  t.false(after.text.includes(b.rootToken));
  t.false(after.text.includes('metrics-secret-value'));
  t.deepEqual([...labelValues(after.families, 'operation')].sort(), ['read', 'update']);

  // The rest of the broker: seal state, keyring term, audit group commit, process metrics.
  t.is(sum(after.families, 'sealbox_sealed', 'sealbox_sealed'), 0);
  t.is(sum(after.families, 'sealbox_keyring_term', 'sealbox_keyring_term'), 1);
  t.true(sum(after.families, 'sealbox_audit_batch_size', 'sealbox_audit_batch_size_count') >= 7);
  t.true(sum(after.families, 'sealbox_audit_append_duration_seconds', 'sealbox_audit_append_duration_seconds_count') >= 7);
  t.is(after.families.get('sealbox_audit_append_failures_total')?.type, 'counter');
  t.is(sum(after.families, 'sealbox_metrics_collect_errors_total', 'sealbox_metrics_collect_errors_total'), 0, 'every collector ran (the lease query on PGlite too)');
  t.true(sum(after.families, 'process_cpu_seconds_total', 'process_cpu_seconds_total') > 0);
  t.true(sum(after.families, 'nodejs_heap_size_used_bytes', 'nodejs_heap_size_used_bytes') > 0);
  t.is((await api(b, 'PUT', 'sys/rotate')).status, 204);
  t.is(sum((await scrape(b)).families, 'sealbox_keyring_term', 'sealbox_keyring_term'), 2);

  // Without format=prometheus: a JSON summary in the usual envelope.
  r = await api(b, 'GET', 'sys/metrics');
  t.is(r.status, 200, r.text);
  const json = r.json as { data: { metrics: { name: string; type: string; values: { name?: string; labels: Record<string, string>; value: number }[] }[] } };
  const sealed = json.data.metrics.find((m) => m.name === 'sealbox_sealed');
  t.deepEqual(sealed?.values, [{ labels: {}, value: 0 }]);
  t.truthy(json.data.metrics.find((m) => m.name === 'sealbox_request_duration_seconds')?.values.some((v) => v.name === 'sealbox_request_duration_seconds_count' && v.labels.mount === 'secret/'));
  r = await api(b, 'GET', 'sys/metrics?format=xml');
  t.is(r.status, 400);
  t.regex((r.json as { errors: string[] }).errors[0] ?? '', /format: must be "prometheus" or "json"/);

  // Access: a token without a policy for sys/metrics is refused; a policy with read on it lets the token in.
  r = await api(b, 'POST', 'auth/token/create', { body: { policies: ['default'] } });
  const plain = (r.json as { auth: { client_token: string } }).auth.client_token;
  r = await api(b, 'GET', 'sys/metrics?format=prometheus', { token: plain });
  t.is(r.status, 403);
  t.deepEqual(r.json, { errors: ['permission denied'] });
  t.is((await api(b, 'GET', 'sys/metrics?format=prometheus', { token: null })).status, 403);
  t.is((await api(b, 'PUT', 'sys/policies/acl/metrics', { body: { policy: { path: { 'sys/metrics': { capabilities: ['read'] } } } } })).status, 204);
  r = await api(b, 'POST', 'auth/token/create', { body: { policies: ['metrics'] } });
  const scraper = (r.json as { auth: { client_token: string } }).auth.client_token;
  const scraped = await scrape(b, scraper);
  t.true(scraped.families.has('sealbox_request_duration_seconds'));
  t.false(scraped.text.includes(scraper));
  t.false(b.logs().includes('metrics-secret-value'));
});

test('sys/metrics: lease and pool gauges follow a dynamic database credential', async (t) => {
  const cluster = await startPostgres();
  const url = await cluster.createDatabase();
  const dbName = new URL(url).pathname.slice(1);
  await withPgClient(url, async (c) => {
    await c.query(`DO $$ BEGIN CREATE ROLE metrics_readers NOLOGIN; EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$`);
  });
  const b = await startApp({ databaseUrl: await cluster.createDatabase() });
  t.teardown(() => b.stop());
  t.is((await api(b, 'POST', 'sys/mounts/database', { body: { type: 'database' } })).status, 204);
  let r = await api(b, 'POST', 'database/config/main', {
    body: {
      plugin_name: 'postgresql-database-plugin',
      connection_url: `postgresql://{{username}}:{{password}}@127.0.0.1:${cluster.port}/${dbName}`,
      username: cluster.user,
      password: cluster.password,
      allowed_roles: '*',
      max_open_connections: 3,
    },
  });
  t.true(r.status < 300, r.text);
  r = await api(b, 'POST', 'database/roles/ro', { body: { db_name: 'main', default_group: 'metrics_readers', default_ttl: '30m', max_ttl: '2h' } });
  t.true(r.status < 300, r.text);

  const leased = (f: Map<string, Family>, state = 'active') => sum(f, 'sealbox_leases', 'sealbox_leases', { mount: 'database/', state });
  const empty = await scrape(b);
  t.is(leased(empty.families), 0);

  r = await api(b, 'GET', 'database/creds/ro');
  t.is(r.status, 200, r.text);
  const creds = r.json as { lease_id: string; data: { username: string; password: string } };
  r = await api(b, 'GET', 'database/creds/ro');
  t.is(r.status, 200, r.text);

  const { families, text } = await scrape(b);
  t.is(leased(families), 2);
  t.is(leased(families, 'irrevocable'), 0);
  t.is(sum(families, 'sealbox_leases_expiring_soon', 'sealbox_leases_expiring_soon', { mount: 'database/' }), 2, 'a 30m lease expires within the hour');
  t.is(families.get('sealbox_leases')?.type, 'gauge');
  t.is(sum(families, 'sealbox_metrics_collect_errors_total', 'sealbox_metrics_collect_errors_total'), 0);
  // Pool saturation for the config "main": open connections within the configured limit, nobody waiting now.
  const pool = { mount: 'database/', config: 'main' };
  t.is(sum(families, 'sealbox_database_pool_max_connections', 'sealbox_database_pool_max_connections', pool), 3);
  const open = sum(families, 'sealbox_database_pool_connections', 'sealbox_database_pool_connections', pool);
  t.true(open >= 1 && open <= 3, String(open));
  t.true(sum(families, 'sealbox_database_pool_idle_connections', 'sealbox_database_pool_idle_connections', pool) <= open);
  t.is(sum(families, 'sealbox_database_pool_waiting_requests', 'sealbox_database_pool_waiting_requests', pool), 0);
  // No lease ids, usernames or passwords as labels.
  t.false(text.includes(creds.lease_id.split('/').at(-1) ?? '<none>'));
  t.false(text.includes(creds.data.username));
  t.false(text.includes(creds.data.password));

  t.is((await api(b, 'PUT', 'sys/leases/revoke', { body: { lease_id: creds.lease_id } })).status, 204);
  t.is(leased((await scrape(b)).families), 1);
  t.false(b.logs().includes(creds.data.password));
});
