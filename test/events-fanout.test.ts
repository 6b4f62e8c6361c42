// sys/events/subscribe with many subscribers (issue 18 item 8): each event reaches every subscriber that may read its
// path exactly once and in order, none that may not; the per-subscriber caches behind the fan-out (token entry, the
// compiled policies) still see a revocation, an expiry and a policy change at the next event.
import test from 'ava';
import { startApp } from './helpers/app.ts';
import { api } from './helpers/broker.ts';
import { subscribe, type Sse } from './helpers/sse.ts';

const SUBSCRIBERS = 50;
const READER_POLICY = { path: { 'sys/events/subscribe': { capabilities: ['read'] }, 'secret/data/app/*': { capabilities: ['read'] } } };
const OUTSIDER_POLICY = { path: { 'sys/events/subscribe': { capabilities: ['read'] }, 'secret/data/other/*': { capabilities: ['read'] } } };

const writes = (s: Sse): string[] => s.events.filter((e) => e.event === 'kv-v2/data-write').map((e) => `${String(e.data.path)} v${String(e.data.version)}`);

test('50 subscribers each get every event they may read exactly once, in order; one without permission gets none', async (t) => {
  const b = await startApp();
  t.teardown(() => b.stop());
  for (const [name, policy] of [['reader', READER_POLICY], ['outsider', OUTSIDER_POLICY]] as const) {
    t.is((await api(b, 'PUT', `sys/policies/acl/${name}`, { body: { policy: JSON.stringify(policy) } })).status, 204);
  }
  const token = async (policy: string, ttl = '24h'): Promise<string> =>
    ((await api(b, 'POST', 'auth/token/create', { body: { policies: [policy], ttl } })).json as { auth: { client_token: string } }).auth.client_token;
  const readerTokens: string[] = [];
  for (let i = 0; i < SUBSCRIBERS; i++) readerTokens.push(await token('reader'));
  const shortLived = await token('reader', '1h');
  const outsiderToken = await token('outsider');
  const readers = await Promise.all(readerTokens.map((tk) => subscribe(b, tk)));
  const [expiring, outsider] = await Promise.all([subscribe(b, shortLived), subscribe(b, outsiderToken)]);
  t.teardown(() => {
    for (const s of [...readers, expiring, outsider]) s.close();
  });
  t.true([...readers, expiring, outsider].every((s) => s.status === 200));

  const write = async (path: string): Promise<void> => {
    t.is((await api(b, 'POST', `secret/data/${path}`, { body: { data: { v: 'not-in-any-event' } } })).status, 200);
  };
  const heard = (s: Sse, what: string) => s.waitFor((e) => e.event === 'kv-v2/data-write' && `${String(e.data.path)} v${String(e.data.version)}` === what, 30_000);
  for (let i = 0; i < 3; i++) await write('app/x');
  await write('other/y');
  await write('app/end');
  await Promise.all([...readers, expiring].map((s) => heard(s, 'secret/data/app/end v1')));
  // Events go out in publish order, so once the outsider has the later other/y, the app/ events were withheld.
  await heard(outsider, 'secret/data/other/y v1');
  const expected = ['secret/data/app/x v1', 'secret/data/app/x v2', 'secret/data/app/x v3', 'secret/data/app/end v1'];
  for (const s of [...readers, expiring]) t.deepEqual(writes(s), expected);
  t.deepEqual(writes(outsider), ['secret/data/other/y v1']);

  // A revoked token's stream ends at the next event; the expired one's too; the others hear it once more.
  const [revoked, ...rest] = readers;
  if (!revoked) throw new Error('no readers');
  t.is((await api(b, 'POST', 'auth/token/revoke', { body: { token: readerTokens[0] } })).status, 204);
  b.clock.advance(2 * 3600_000);
  await write('app/x');
  for (const s of [revoked, expiring]) t.like((await s.waitFor((e) => e.event === 'end', 30_000)).data, { reason: 'token revoked or expired' });
  await Promise.all(rest.map((s) => heard(s, 'secret/data/app/x v4')));
  for (const s of [revoked, expiring]) t.deepEqual(writes(s), expected, 'nothing after the revocation or expiry');
  for (const s of rest) t.deepEqual(writes(s), [...expected, 'secret/data/app/x v4']);

  // A policy change applies at the next event: the readers lose app/, keep other/.
  const narrowed = { path: { 'sys/events/subscribe': { capabilities: ['read'] }, 'secret/data/other/*': { capabilities: ['read'] } } };
  t.is((await api(b, 'PUT', 'sys/policies/acl/reader', { body: { policy: JSON.stringify(narrowed) } })).status, 204);
  await write('app/x');
  await write('other/y');
  await Promise.all(rest.map((s) => heard(s, 'secret/data/other/y v2')));
  for (const s of rest) t.deepEqual(writes(s), [...expected, 'secret/data/app/x v4', 'secret/data/other/y v2']);
  t.false(JSON.stringify([...readers, outsider].map((s) => s.events)).includes('not-in-any-event'));
});
