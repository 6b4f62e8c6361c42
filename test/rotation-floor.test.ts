// Every rotation schedule a token can set through the API has a floor (rotation_min_interval, default 1 minute): a
// tenant cannot make the broker rotate, and hit a target, every second. Too short is a 400 naming the floor, and
// nothing is stored.
import test from 'ava';
import { checkRotationFloor, shortestCronGap } from '../src/core/rotations/rotation-floor.ts';
import { startApp, type InProcessBroker as Broker } from './helpers/app.ts';
import { api } from './helpers/broker.ts';

let b: Broker;
test.before(async () => {
  b = await startApp();
});
test.after.always(() => b.stop());

const errorOf = (json: unknown): string => ((json as { errors?: string[] }).errors ?? []).join(' ');
const FLOOR = /at least 60s apart \(the broker's rotation_min_interval\)/;

test.serial('KV rotate-config: a cron every 2 s or a 10 s period is a 400 naming the floor and stores nothing; every minute is fine', async (t) => {
  for (const body of [
    { schedule: '*/2 * * * * *', generator: { length: 16 } },
    { schedule: '0,1 * * * * *', generator: { length: 16 } },
    { period: '10s', generator: { length: 16 } },
  ]) {
    const r = await api(b, 'POST', 'secret/rotate-config/floor/a', { body });
    t.is(r.status, 400, JSON.stringify(body));
    t.regex(errorOf(r.json), FLOOR);
    t.is((await api(b, 'GET', 'secret/rotate-config/floor/a')).status, 404, 'nothing was stored');
  }
  t.is((await api(b, 'POST', 'secret/rotate-config/floor/a', { body: { schedule: '* * * * *', generator: { length: 16 } } })).status, 200);
  t.is((await api(b, 'POST', 'secret/rotate-config/floor/b', { body: { period: '1m', generator: { length: 16 } } })).status, 200);
});

test.serial('sys/rotations/:id: rescheduling below the floor is a 400 and the stored schedule stays', async (t) => {
  t.is((await api(b, 'POST', 'secret/rotate-config/floor/c', { body: { schedule: '0 0 * * *', generator: { length: 16 } } })).status, 200);
  const id = 'secret/rotate/floor/c';
  const r = await api(b, 'PUT', `sys/rotations/${id}`, { body: { schedule: '* * * * * *' } });
  t.is(r.status, 400, r.text);
  t.regex(errorOf(r.json), FLOOR);
  t.is(((await api(b, 'GET', `sys/rotations/${id}`)).json as { data: { schedule: string } }).data.schedule, '0 0 * * *');
  // The keyring rotation too.
  t.is((await api(b, 'PUT', 'sys/rotations/sys/keyring', { body: { schedule: '*/5 * * * * *' } })).status, 400);
  t.is((await api(b, 'PUT', `sys/rotations/${id}`, { body: { schedule: '*/5 * * * *' } })).status, 200);
});

test.serial('PKI issuer rotation and database static-role and root rotation schedules have the same floor, checked before anything is written', async (t) => {
  t.is((await api(b, 'POST', 'sys/mounts/pki', { body: { type: 'pki' } })).status, 204);
  t.is((await api(b, 'POST', 'pki/root/generate/internal', { body: { common_name: 'Floor Root', ttl: '8760h' } })).status, 200);
  const pki = await api(b, 'POST', 'pki/config/issuer-rotation', { body: { period: '30s', ttl: '8760h' } });
  t.is(pki.status, 400, pki.text);
  t.regex(errorOf(pki.json), FLOOR);
  t.is((await api(b, 'GET', 'pki/config/issuer-rotation')).status, 404);

  t.is((await api(b, 'POST', 'sys/mounts/database', { body: { type: 'database' } })).status, 204);
  const config = {
    plugin_name: 'postgresql-database-plugin',
    connection_url: 'postgresql://{{username}}:{{password}}@127.0.0.1:1/none',
    username: 'broker',
    password: 'not-used',
    verify_connection: false,
    allowed_roles: ['*'],
  };
  const root = await api(b, 'POST', 'database/config/main', { body: { ...config, root_rotation_period: '10s' } });
  t.is(root.status, 400, root.text);
  t.regex(errorOf(root.json), FLOOR);
  t.is((await api(b, 'GET', 'database/config/main')).status, 404, 'the config was not saved');
  t.is((await api(b, 'POST', 'database/config/main', { body: config })).status, 204);

  const role = await api(b, 'POST', 'database/static-roles/fast', { body: { db_name: 'main', username: 'app', rotation_schedule: '*/10 * * * * *' } });
  t.is(role.status, 400, role.text);
  t.regex(errorOf(role.json), FLOOR);
  t.is((await api(b, 'GET', 'database/static-roles/fast')).status, 404);
});

test('the floor itself: the shortest gap of a cron expression, and periods', (t) => {
  const from = new Date('2026-01-01T00:00:00Z');
  t.is(shortestCronGap('*/2 * * * * *', from), 2);
  t.is(shortestCronGap('* * * * *', from), 60);
  t.is(shortestCronGap('0,1 0 * * * *', from), 1);
  t.throws(() => checkRotationFloor({ periodSeconds: 59 }, 60, from), { message: /period: 59s is too short/ });
  t.notThrows(() => checkRotationFloor({ periodSeconds: 60 }, 60, from));
  t.notThrows(() => checkRotationFloor({ schedule: '*/2 * * * * *' }, 0, from), 'a floor of 0 is none');
});
