// Tracing (issue 9): OpenTelemetry spans for requests, storage and target-database calls, exported over OTLP/HTTP
// (JSON) to a tiny collector in this test; W3C traceparent honoured; trace ids in the request's log lines; and
// nothing at all with the exporter off (the default).
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import test, { type ExecutionContext } from 'ava';
import { api, startBroker, type ApiResponse, type Broker } from './helpers/broker.ts';
import { startPostgres, withPgClient, type PgCluster } from './helpers/postgres.ts';

interface OtlpValue {
  stringValue?: string;
  intValue?: string | number;
  boolValue?: boolean;
}
interface OtlpSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind: number;
  attributes?: { key: string; value: OtlpValue }[];
  status?: { code?: number };
}
interface OtlpRequest {
  resourceSpans?: { resource?: { attributes?: { key: string; value: OtlpValue }[] }; scopeSpans?: { spans?: OtlpSpan[] }[] }[];
}

/** The collector: every POSTed OTLP/JSON body, kept raw (for "no secret in any span") and parsed. */
const bodies: string[] = [];
const spans: OtlpSpan[] = [];
const services = new Set<string>();
let collector: http.Server;
let endpoint: string;

let cluster: PgCluster;
let traced: Broker;
let untraced: Broker;
const prefix = `tr${randomBytes(3).toString('hex')}`;
const GROUP = `${prefix}_readers`;
const BROKER_USER = `${prefix}_broker`;
const BROKER_PASSWORD = `bp-${randomBytes(12).toString('hex')}`;

const attr = (s: OtlpSpan, key: string): string | number | boolean | undefined => {
  const v = s.attributes?.find((a) => a.key === key)?.value;
  if (!v) return undefined;
  return v.stringValue ?? (v.intValue !== undefined ? Number(v.intValue) : v.boolValue);
};
const newTraceId = (): string => randomBytes(16).toString('hex');
const newSpanId = (): string => randomBytes(8).toString('hex');
const traceparent = (traceId: string, spanId: string, flags = '01'): string => `00-${traceId}-${spanId}-${flags}`;

/** Called with every batch of spans the collector receives. */
const spanWaiters = new Set<() => void>();

/** Resolves with the first span matching `pick` as soon as the collector holds one (the batch processor exports every 100 ms here). */
function waitForSpan(pick: (s: OtlpSpan) => boolean, timeoutMs = 15_000): Promise<OtlpSpan> {
  const found = spans.find(pick);
  if (found) return Promise.resolve(found);
  return new Promise<OtlpSpan>((resolve, reject) => {
    const waiter = (): void => {
      const span = spans.find(pick);
      if (!span) return;
      clearTimeout(timer);
      spanWaiters.delete(waiter);
      resolve(span);
    };
    const timer = setTimeout(() => {
      spanWaiters.delete(waiter);
      reject(new Error(`no such span within ${timeoutMs} ms; spans so far: ${spans.map((s) => s.name).join(', ')}`));
    }, timeoutMs);
    spanWaiters.add(waiter);
  });
}

/** Every span of the trace that descends from `root`. */
function descendants(root: OtlpSpan): OtlpSpan[] {
  const inTrace = spans.filter((s) => s.traceId === root.traceId);
  const out: OtlpSpan[] = [];
  const parents = new Set([root.spanId]);
  for (let grew = true; grew; ) {
    grew = false;
    for (const s of inTrace) {
      if (s.parentSpanId && parents.has(s.parentSpanId) && !parents.has(s.spanId)) {
        parents.add(s.spanId);
        out.push(s);
        grew = true;
      }
    }
  }
  return out;
}

/**
 * The request's log lines, once its access-log line (the last one a request writes) has been read from the broker's
 * output: the HTTP answer, and the span exported after it, can arrive before the lines are read from the pipe.
 */
const logsOf = async (b: Broker, r: ApiResponse): Promise<Record<string, unknown>[]> => {
  const id = r.headers.get('x-request-id');
  if (!(await b.waitForLogLine((l) => l.request_id === id && l.msg === 'request', 15_000))) throw new Error(`no access-log line for request ${String(id)}`);
  return b.logLines().filter((l) => l.request_id === id);
};

async function ok(t: ExecutionContext, r: Promise<ApiResponse>, status = 204): Promise<ApiResponse> {
  const res = await r;
  t.is(res.status, status, res.text);
  return res;
}

test.before(async () => {
  collector = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      if (req.url === '/v1/traces' && (req.headers['content-type'] ?? '').startsWith('application/json')) {
        bodies.push(text);
        const body = JSON.parse(text) as OtlpRequest;
        for (const rs of body.resourceSpans ?? []) {
          const name = rs.resource?.attributes?.find((a) => a.key === 'service.name')?.value.stringValue;
          if (name) services.add(name);
          for (const ss of rs.scopeSpans ?? []) spans.push(...(ss.spans ?? []));
        }
        for (const w of [...spanWaiters]) w();
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((r) => collector.listen(0, '127.0.0.1', r));
  endpoint = `http://127.0.0.1:${(collector.address() as AddressInfo).port}/v1/traces`;

  cluster = await startPostgres();
  const targetUrl = await cluster.createDatabase();
  await withPgClient(targetUrl, async (c) => {
    await c.query('CREATE TABLE items (id int PRIMARY KEY, name text)');
    await c.query(`CREATE ROLE ${GROUP} NOLOGIN`);
    await c.query(`GRANT SELECT ON items TO ${GROUP}`);
    await c.query(`CREATE ROLE ${BROKER_USER} LOGIN CREATEROLE PASSWORD '${BROKER_PASSWORD}'`);
    await c.query(`GRANT ${GROUP} TO ${BROKER_USER} WITH ADMIN OPTION`);
    await c.query(`GRANT pg_signal_backend TO ${BROKER_USER}`);
  });
  const env = { SEALBOX_ACCESS_LOG: 'true', OTEL_BSP_SCHEDULE_DELAY: '100' };
  [traced, untraced] = await Promise.all([
    startBroker({ databaseUrl: await cluster.createDatabase(), env: { ...env, SEALBOX_TRACING_EXPORTER: 'otlp', SEALBOX_TRACING_ENDPOINT: endpoint } }),
    // The endpoint is set but the exporter is not: off is the default.
    startBroker({ env: { ...env, SEALBOX_TRACING_ENDPOINT: endpoint } }),
  ]);
  const db = new URL(targetUrl).pathname.slice(1);
  const mount = await api(traced, 'POST', 'sys/mounts/database', { body: { type: 'database' } });
  if (mount.status !== 204) throw new Error(`mount failed: ${mount.status} ${mount.text}`);
  const cfg = await api(traced, 'POST', 'database/config/main', {
    body: {
      plugin_name: 'postgresql-database-plugin',
      connection_url: `postgresql://{{username}}:{{password}}@127.0.0.1:${cluster.port}/${db}`,
      username: BROKER_USER,
      password: BROKER_PASSWORD,
      allowed_roles: 'app',
    },
  });
  if (cfg.status !== 204) throw new Error(`config failed: ${cfg.status} ${cfg.text}`);
  const role = await api(traced, 'POST', 'database/roles/app', { body: { db_name: 'main', default_group: GROUP, default_ttl: '1h' } });
  if (role.status !== 204) throw new Error(`role failed: ${role.status} ${role.text}`);
  for (const b of [traced, untraced]) {
    const w = await api(b, 'POST', 'secret/data/payments/stripe-key', { body: { data: { api_key: 'sk-live-very-secret' } } });
    if (w.status !== 200) throw new Error(`kv write failed: ${w.status} ${w.text}`);
  }
});

test.after.always(async () => {
  await Promise.all([traced?.stop(), untraced?.stop()]);
  collector?.close();
});

test('a request with traceparent is a span of that trace, with storage child spans, and its log lines carry the trace id', async (t) => {
  const traceId = newTraceId();
  const parent = newSpanId();
  const r = await ok(t, api(traced, 'GET', 'secret/data/payments/stripe-key', { headers: { traceparent: traceparent(traceId, parent) } }), 200);

  const server = await waitForSpan((s) => s.traceId === traceId && s.parentSpanId === parent);
  // Named by operation and mount only: never the secret's path.
  t.is(server.name, 'sealbox read secret/');
  t.is(server.kind, 2, 'SPAN_KIND_SERVER');
  t.is(attr(server, 'sealbox.mount'), 'secret/');
  t.is(attr(server, 'sealbox.operation'), 'read');
  t.is(attr(server, 'sealbox.outcome'), 'success');
  t.is(attr(server, 'http.response.status_code'), 200);
  t.is(attr(server, 'sealbox.request_id'), r.headers.get('x-request-id') ?? 'missing');
  t.true(services.has('sealbox'));

  // Token lookup, the entry read and the audit append all hit storage inside the request.
  await waitForSpan((s) => s.traceId === traceId && s.name.startsWith('storage '));
  const children = descendants(server);
  const storage = children.filter((s) => s.name.startsWith('storage '));
  t.true(storage.length >= 1, children.map((s) => s.name).join(', '));
  for (const s of storage) {
    t.is(attr(s, 'db.system.name'), 'postgresql');
    // A summary such as "SELECT tokens": one keyword and a table, never the statement or its parameters.
    t.regex(String(attr(s, 'db.query.summary')), /^[A-Z]+( [a-z_.]+)?$/);
  }

  const lines = await logsOf(traced, r);
  t.true(lines.length >= 1, 'the access log line');
  for (const l of lines) t.is(l.trace_id, traceId);

  // Neither the secret's name nor its value reaches any exported span.
  const everything = bodies.join('\n');
  t.false(everything.includes('stripe-key'));
  t.false(everything.includes('payments'));
  t.false(everything.includes('sk-live-very-secret'));
});

test('a dynamic database credential: the target-database call is a child span, and no password is exported', async (t) => {
  const traceId = newTraceId();
  const r = await ok(t, api(traced, 'GET', 'database/creds/app', { headers: { traceparent: traceparent(traceId, newSpanId()) } }), 200);
  const { password } = (r.json as { data: { password: string } }).data;

  const server = await waitForSpan((s) => s.traceId === traceId && s.kind === 2);
  t.is(server.name, 'sealbox read database/');
  const target = await waitForSpan((s) => s.traceId === traceId && s.name === 'target-db');
  t.true(descendants(server).some((s) => s.spanId === target.spanId));
  t.is(attr(target, 'sealbox.db.config'), 'main');
  t.is(attr(target, 'db.system.name'), 'postgresql');
  t.false(bodies.join('\n').includes(password));
  t.false(bodies.join('\n').includes(BROKER_PASSWORD));
});

test('a denied request is traced with its outcome, and is not marked as a server error', async (t) => {
  const traceId = newTraceId();
  await ok(t, api(traced, 'GET', 'secret/data/payments/stripe-key', { token: 'not-a-token', headers: { traceparent: traceparent(traceId, newSpanId()) } }), 403);
  const server = await waitForSpan((s) => s.traceId === traceId && s.kind === 2);
  t.is(attr(server, 'sealbox.outcome'), 'permission_denied');
  t.is(attr(server, 'http.response.status_code'), 403);
  t.not(server.status?.code, 2, 'STATUS_CODE_ERROR is for 5xx only');
});

test('without a usable traceparent the request starts a new trace, and logs carry that trace id', async (t) => {
  for (const header of [undefined, 'garbage', traceparent('0'.repeat(32), newSpanId()), `01-${'A'.repeat(32)}-${newSpanId()}-01`]) {
    const r = await ok(t, api(traced, 'GET', 'sys/health', { token: null, headers: header ? { traceparent: header } : {} }), 200);
    const id = r.headers.get('x-request-id');
    const server = await waitForSpan((s) => attr(s, 'sealbox.request_id') === id);
    t.is(server.parentSpanId ?? '', '', String(header));
    t.regex(server.traceId, /^[0-9a-f]{32}$/);
    t.not(server.traceId, '0'.repeat(32));
    t.is(server.name, 'sealbox read sys/');
    t.deepEqual(
      (await logsOf(traced, r)).map((l) => l.trace_id),
      [server.traceId],
    );
  }
});

test('an unsampled traceparent records no span, but the log lines still name the caller’s trace', async (t) => {
  const traceId = newTraceId();
  const r = await ok(t, api(traced, 'GET', 'secret/data/payments/stripe-key', { headers: { traceparent: traceparent(traceId, newSpanId(), '00') } }), 200);
  // A later sampled request's span arriving proves the exporter had its chance to send the unsampled one.
  const marker = newTraceId();
  await ok(t, api(traced, 'GET', 'sys/health', { token: null, headers: { traceparent: traceparent(marker, newSpanId()) } }), 200);
  await waitForSpan((s) => s.traceId === marker);
  t.false(spans.some((s) => s.traceId === traceId));
  t.deepEqual(
    (await logsOf(traced, r)).map((l) => l.trace_id),
    [traceId],
  );
});

test('tracing off (the default): nothing is exported and log lines have no trace_id', async (t) => {
  const traceId = newTraceId();
  const r = await ok(t, api(untraced, 'GET', 'secret/data/payments/stripe-key', { headers: { traceparent: traceparent(traceId, newSpanId()) } }), 200);
  await ok(t, api(untraced, 'GET', 'sys/health', { token: null }), 200);
  // Its whole life, not a while: a broker's graceful stop shuts its tracer provider down, which sends what is pending
  // and waits for the collector's answer, so once it has exited everything it would ever export has arrived.
  t.is(await untraced.stop(), 0, 'a graceful stop');
  t.false(spans.some((s) => s.traceId === traceId));
  t.false(spans.some((s) => attr(s, 'sealbox.request_id') === r.headers.get('x-request-id')));
  const lines = await logsOf(untraced, r);
  t.true(lines.length >= 1);
  for (const l of lines) t.false('trace_id' in l);
  t.false(untraced.logs().includes('tracing enabled'));
  t.true(traced.logs().includes('tracing enabled'));
});

test('a bad tracing setting stops the broker at start with a message naming it', async (t) => {
  const bad = await t.throwsAsync(startBroker({ env: { SEALBOX_TRACING_EXPORTER: 'zipkin' } }));
  t.regex(bad?.message ?? '', /tracing_exporter/);
  const url = await t.throwsAsync(startBroker({ env: { SEALBOX_TRACING_EXPORTER: 'otlp', SEALBOX_TRACING_ENDPOINT: 'collector:4318' } }));
  t.regex(url?.message ?? '', /tracing_endpoint: must be an http\(s\) URL/);
});
