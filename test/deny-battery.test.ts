// The deny battery: every path of every mount, for every operation, refuses a missing token, a forged token and a
// token whose policy lacks exactly the capability the operation needs. Engines join automatically: the test mounts
// every type in sys/plugins/catalog and walks sys/internal/specs/openapi.
import test from 'ava';
import { startApp } from './helpers/app.ts';
import { api } from './helpers/broker.ts';

type Op = 'read' | 'list' | 'update' | 'delete' | 'patch';
const ALL = ['create', 'read', 'update', 'patch', 'delete', 'list', 'sudo'];
const NEEDS: Record<Op, string[]> = { read: ['read'], list: ['list'], update: ['create', 'update'], delete: ['delete'], patch: ['patch'] };

test('no token, a forged token, or a policy without the capability gets 403 on every path', async (t) => {
  const b = await startApp();
  t.teardown(() => b.stop());

  const catalog = (await api(b, 'GET', 'sys/plugins/catalog')).json as { data: { auth: string[]; secret: string[] } };
  for (const type of catalog.data.secret) {
    const r = await api(b, 'POST', `sys/mounts/battery-${type}`, { body: { type } });
    t.is(r.status, 204, `mount ${type}: ${r.text}`);
  }
  for (const type of catalog.data.auth) {
    const r = await api(b, 'POST', `sys/auth/battery-${type}`, { body: { type } });
    t.is(r.status, 204, `enable auth ${type}: ${r.text}`);
  }

  const lacking: Record<Op, string> = { read: '', list: '', update: '', delete: '', patch: '' };
  for (const op of Object.keys(NEEDS) as Op[]) {
    const caps = ALL.filter((c) => !NEEDS[op].includes(c));
    const rules = `path "*" { capabilities = ${JSON.stringify(caps)} }`;
    t.is((await api(b, 'PUT', `sys/policy/battery-no-${op}`, { body: { rules } })).status, 204);
    const tok = await api(b, 'POST', 'auth/token/create', { body: { policies: [`battery-no-${op}`], no_default_policy: true } });
    lacking[op] = (tok.json as { auth: { client_token: string } }).auth.client_token;
  }

  const spec = (await api(b, 'GET', 'sys/internal/specs/openapi')).json as {
    paths: Record<string, { 'x-sealbox-operations': Op[]; 'x-vault-unauthenticated': boolean; 'x-sealbox-wrapping-token'?: boolean }>;
  };
  const mounts = new Set(Object.keys(spec.paths).map((p) => p.split('/')[1]));
  for (const type of [...catalog.data.secret]) t.true(mounts.has(`battery-${type}`), `${type} paths are listed`);

  let checked = 0;
  for (const [template, item] of Object.entries(spec.paths)) {
    if (item['x-vault-unauthenticated']) continue;
    const path = template.slice(1).replace(/\{path\}/g, 'x/y').replace(/\{[A-Za-z_]+\}/g, 'x');
    for (const op of item['x-sealbox-operations']) {
      const method = { read: 'GET', list: 'GET', update: 'POST', delete: 'DELETE', patch: 'PATCH' }[op];
      const target = op === 'list' ? `${path}?list=true` : path;
      const headers = op === 'patch' ? { 'content-type': 'application/merge-patch+json' } : undefined;
      const body = op === 'update' || op === 'patch' ? {} : undefined;
      for (const [who, token] of [
        ['no token', null],
        ['forged token', 'sbx.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA'],
        [`policy without ${NEEDS[op].join('/')}`, lacking[op]],
      ] as const) {
        const r = await api(b, method, target, { token, body, headers });
        // sys/wrapping/{unwrap,rewrap} take the client token as a wrapping token: anything else is Vault's 400 for it.
        const wrapping = item['x-sealbox-wrapping-token'] === true && token !== null && r.text.includes('wrapping token is not valid or does not exist');
        t.is(r.status, wrapping ? 400 : 403, `${who}: ${op} ${path} → ${r.status} ${r.text.slice(0, 120)}`);
        checked++;
      }
    }
  }
  t.true(checked > 100, `checked ${checked} requests`);
  t.log(`deny battery: ${checked} requests over ${Object.keys(spec.paths).length} paths`);
});
