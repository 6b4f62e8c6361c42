// sys/events/subscribe: server-sent events that tell agents about changes at once, filtered by the subscriber's
// policies, across replicas, and ended when the token is revoked.
import test from 'ava';
import { api, startBroker } from './helpers/broker.ts';
import { subscribe, tokenWith } from './helpers/sse.ts';
import { startPostgres } from './helpers/postgres.ts';

test('a KV write reaches a subscriber, with path and version and no secret data', async (t) => {
  const b = await startBroker();
  t.teardown(() => b.stop());
  const sse = await subscribe(b, b.rootToken);
  t.teardown(() => sse.close());
  t.is(sse.status, 200);
  const sent = Date.now();
  await api(b, 'POST', 'secret/data/app/config', { body: { data: { password: 'hunter2-event-secret' } } });
  // How fast is bench/rotation-event's figure (p99 at each subscriber), not a test's: here it must arrive.
  const e = await sse.waitFor((x) => x.event === 'kv-v2/data-write', 30_000);
  t.log(`arrived ${e.at - sent} ms after the write was sent`);
  t.like(e.data, { type: 'kv-v2/data-write', path: 'secret/data/app/config', version: 1 });
  await api(b, 'DELETE', 'secret/data/app/config');
  const d = await sse.waitFor((x) => x.event === 'kv-v2/data-delete');
  t.is(d.data.path, 'secret/data/app/config');
  t.false(JSON.stringify(sse.events).includes('hunter2-event-secret'));
});

test('subscribers hear only paths they may read; the types filter narrows further; no read on sys/events/subscribe is 403', async (t) => {
  const b = await startBroker();
  t.teardown(() => b.stop());
  const token = await tokenWith(b, { 'sys/events/subscribe*': { capabilities: ['read'] }, 'secret/data/app/*': { capabilities: ['read'] } });
  const mine = await subscribe(b, token);
  const onlyDeletes = await subscribe(b, b.rootToken, '?types=kv-v2/data-delete');
  t.teardown(() => {
    mine.close();
    onlyDeletes.close();
  });
  await api(b, 'POST', 'secret/data/other/x', { body: { data: { a: 1 } } });
  await api(b, 'POST', 'secret/data/app/y', { body: { data: { a: 1 } } });
  // Two deletes close the sequence: a stream delivers in publish order, so once the last delete has arrived at both
  // subscribers, anything either was going to hear from the writes has arrived too.
  await api(b, 'DELETE', 'secret/data/other/x');
  await api(b, 'DELETE', 'secret/data/app/y');
  const isLast = (x: { event: string; data: Record<string, unknown> }) => x.event === 'kv-v2/data-delete' && x.data.path === 'secret/data/app/y';
  await Promise.all([mine.waitFor(isLast), onlyDeletes.waitFor(isLast)]);
  t.deepEqual(
    mine.events.map((e) => `${e.event} ${String(e.data.path)}`),
    ['kv-v2/data-write secret/data/app/y', 'kv-v2/data-delete secret/data/app/y'],
  );
  t.deepEqual(
    onlyDeletes.events.map((e) => `${e.event} ${String(e.data.path)}`),
    ['kv-v2/data-delete secret/data/other/x', 'kv-v2/data-delete secret/data/app/y'],
  );

  const noRead = await tokenWith(b, { 'secret/data/app/*': { capabilities: ['read'] } });
  const denied = await api(b, 'GET', 'sys/events/subscribe', { token: noRead });
  t.is(denied.status, 403);
  const badType = await api(b, 'GET', 'sys/events/subscribe?types=%3Bdrop', {});
  t.is(badType.status, 400);
});

test('an event published on one replica reaches a subscriber of the other; revoking the token ends the stream', async (t) => {
  const pg = await startPostgres();
  const databaseUrl = await pg.createDatabase();
  const a = await startBroker({ databaseUrl });
  const b = await startBroker({ databaseUrl, dataDir: a.dataDir, rootToken: a.rootToken });
  t.teardown(async () => {
    await a.stop();
    await b.stop();
  });
  const token = await tokenWith(a, { 'sys/events/subscribe': { capabilities: ['read'] }, 'secret/data/*': { capabilities: ['read'] } });
  const sse = await subscribe(b, token);
  t.teardown(() => sse.close());
  await api(a, 'POST', 'secret/data/shared', { body: { data: { v: 1 } } });
  const e = await sse.waitFor((x) => x.event === 'kv-v2/data-write');
  t.is(e.data.path, 'secret/data/shared');

  t.is((await api(a, 'POST', 'auth/token/revoke', { body: { token } })).status, 204);
  await api(a, 'POST', 'secret/data/shared', { body: { data: { v: 2 } } });
  const end = await sse.waitFor((x) => x.event === 'end');
  t.is(end.data.reason, 'token revoked or expired');
  await sse.ended;
  t.is(sse.events.filter((x) => x.event === 'kv-v2/data-write').length, 1, 'nothing after the revocation');
});
