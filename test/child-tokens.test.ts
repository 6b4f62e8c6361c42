// A child token never outlives its parent: its TTL is capped to the parent's remaining lifetime when it is created
// and when it renews, so it stops working at the very moment its parent expires (not when the tidy job runs).
import test from 'ava';
import { startApp, type InProcessBroker as Broker } from './helpers/app.ts';
import { api } from './helpers/broker.ts';

interface Auth {
  client_token: string;
  lease_duration: number;
}
interface Lookup {
  expire_time: string | null;
  ttl: number;
}

let b: Broker;
test.before(async () => {
  b = await startApp();
});
test.after.always(() => b.stop());

const createToken = async (token: string | undefined, body: Record<string, unknown>): Promise<Auth> => {
  const r = await api(b, 'POST', 'auth/token/create', { token, body: { policies: ['default'], ...body } });
  if (r.status !== 200) throw new Error(r.text);
  return (r.json as { auth: Auth }).auth;
};
const lookupSelf = async (token: string) => api(b, 'GET', 'auth/token/lookup-self', { token });
const lookupOf = async (token: string): Promise<Lookup> => ((await lookupSelf(token)).json as { data: Lookup }).data;

test.serial('a child asks for 1h under a parent with 10s left: it gets the parent expiry, and stops working the moment the parent does', async (t) => {
  // The parent may create children: the default policy does not grant auth/token/create, so give it a policy that does.
  t.is((await api(b, 'PUT', 'sys/policies/acl/child-maker', { body: { policy: 'path "auth/token/create" { capabilities = ["update"] }' } })).status, 204);
  const parent = await createToken(undefined, { ttl: '10s', policies: ['child-maker'] });
  const child = await createToken(parent.client_token, { ttl: '1h', policies: ['default'] });
  t.true(child.lease_duration <= 10, `child lease_duration ${child.lease_duration}`);
  const [p, c] = [await lookupOf(parent.client_token), await lookupOf(child.client_token)];
  t.is(c.expire_time, p.expire_time, 'the child expires exactly when its parent does');

  // Renewing the child cannot push it past the parent either.
  const renewed = await api(b, 'POST', 'auth/token/renew-self', { token: child.client_token, body: { increment: '1h' } });
  t.is(renewed.status, 200, renewed.text);
  t.true((renewed.json as { auth: Auth }).auth.lease_duration <= 10);
  t.is((await lookupOf(child.client_token)).expire_time, p.expire_time);

  // Step the broker's clock half a second at a time until the parent stops working: no moment where the parent is
  // refused and the child still works.
  for (let step = 0; ; step++) {
    t.true(step <= 25, 'the parent stopped working within its 10 s');
    const childStatus = (await lookupSelf(child.client_token)).status;
    const parentStatus = (await lookupSelf(parent.client_token)).status;
    if (parentStatus === 403) {
      t.is((await lookupSelf(child.client_token)).status, 403, 'the child stops with its parent');
      break;
    }
    t.is(parentStatus, 200);
    // The child was checked first: while the parent still works the child may work, but it never outlives it.
    t.true(childStatus === 200 || childStatus === 403);
    b.clock.advance(500);
  }
});

test.serial('a child of a renewable parent is capped to the parent max; renewing the parent lets the child renew up to the new expiry', async (t) => {
  const parent = await createToken(undefined, { ttl: '60s', explicit_max_ttl: '300s', policies: ['child-maker'] });
  const child = await createToken(parent.client_token, { ttl: '1h', policies: ['default'] });
  t.true(child.lease_duration <= 60);
  const before = await lookupOf(child.client_token);

  t.is((await api(b, 'POST', 'auth/token/renew-self', { token: parent.client_token, body: { increment: '200s' } })).status, 200);
  const renewed = await api(b, 'POST', 'auth/token/renew-self', { token: child.client_token, body: { increment: '1h' } });
  t.is(renewed.status, 200, renewed.text);
  const after = await lookupOf(child.client_token);
  const parentNow = await lookupOf(parent.client_token);
  t.true(Date.parse(after.expire_time ?? '') > Date.parse(before.expire_time ?? ''), 'the child renewed past its first expiry');
  t.true(Date.parse(after.expire_time ?? '') <= Date.parse(parentNow.expire_time ?? ''), 'but not past the parent');

  // An orphan is not capped by its creator.
  const orphan = await api(b, 'POST', 'auth/token/create-orphan', { body: { ttl: '1h', policies: ['default'] } });
  t.true((orphan.json as { auth: Auth }).auth.lease_duration > 3500);
});
