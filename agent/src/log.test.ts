import test from 'ava';
import { createLogger } from './log.ts';

const capture = (level: string): { lines: () => Record<string, unknown>[]; raw: string[]; log: ReturnType<typeof createLogger> } => {
  const raw: string[] = [];
  const log = createLogger(level, { write: (l) => raw.push(l), now: () => new Date('2026-01-02T03:04:05.678Z') });
  return { raw, log, lines: () => raw.map((l) => JSON.parse(l) as Record<string, unknown>) };
};

test('lines are pino-shaped JSON: level, time, name, bindings, fields, msg last', (t) => {
  const c = capture('info');
  c.log.child({ destination: '/x', path: 'p' }).warn({ version: 2, lease_s: undefined }, 'file written');
  t.is(c.raw[0], '{"level":40,"time":"2026-01-02T03:04:05.678Z","name":"sealbox-agent","destination":"/x","path":"p","version":2,"msg":"file written"}\n');
  c.log.info('plain "quoted"\n');
  c.log.info({});
  t.deepEqual(c.lines().slice(1), [
    { level: 30, time: '2026-01-02T03:04:05.678Z', name: 'sealbox-agent', msg: 'plain "quoted"\n' },
    { level: 30, time: '2026-01-02T03:04:05.678Z', name: 'sealbox-agent' },
  ]);
});

test('levels below the configured one are dropped; silent drops everything; children nest', (t) => {
  const c = capture('warn');
  c.log.info('no');
  c.log.debug({ a: 1 }, 'no');
  c.log.error({ err: 'x' }, 'yes');
  c.log.child({ a: 1 }).child({ b: 2 }).fatal('deep');
  t.deepEqual(c.lines().map((l) => [l.level, l.msg, l.a, l.b]), [[50, 'yes', undefined, undefined], [60, 'deep', 1, 2]]);
  const s = capture('silent');
  s.log.fatal('no');
  t.is(s.raw.length, 0);
  t.is(s.log.level, 'silent');
});

test('an Error value is written as type and message, not {}', (t) => {
  const c = capture('info');
  c.log.error({ err: new TypeError('boom') }, 'failed');
  const err = c.lines()[0]?.err as { type: string; message: string };
  t.is(err.type, 'TypeError');
  t.is(err.message, 'boom');
});
