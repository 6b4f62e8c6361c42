import test from 'ava';
import type { Broker } from './broker-client.ts';
import type { SecretConfig } from './config.ts';
import { fetchSecret, secretData } from './fetch-secret.ts';

const chain = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----';

test('the version an acknowledgement names: KV v2 metadata, static-creds and a PKI chain (issue 20)', (t) => {
  t.is(secretData('secret/data/app', { data: { data: { a: 1 }, metadata: { version: 4 } } }).version, 4);
  t.is(secretData('database/static-creds/app', { data: { username: 'u', password: 'p', version: 3 } }).version, 3);
  const pki = secretData('pki/cert/ca_chain', { data: { certificate: chain, ca_chain: chain, version: 2 } });
  t.is(pki.version, 2);
  t.is(pki.data.ca_chain, chain, 'the template sees the chain');
  t.is(secretData('pki/cert/ca', { data: { certificate: chain, version: 2 } }).version, undefined, 'only the chain is acknowledged');
  t.is(secretData('pki/issue/web', { data: { certificate: chain } }).version, undefined);
});

test('a lease counts from the request, not the answer: time the answer spent queued is not time left', async (t) => {
  let clock = 1_000_000;
  const broker: Broker = {
    request: () => {
      clock += 3_000; // a loaded broker: the answer comes 3 s after the request
      return Promise.resolve({ lease_id: 'database/creds/app/x', lease_duration: 5, renewable: true, data: { username: 'u', password: 'p' } });
    },
    stream: () => {
      throw new Error('not used');
    },
    close: () => undefined,
  };
  const secret: SecretConfig = { path: 'database/creds/app', params: undefined, destination: '/dev/null', template: undefined, mode: 0o600, uid: undefined, gid: undefined, onChange: undefined, ack: false, ackIntervalMs: 60_000 };
  const f = await fetchSecret(broker, 'token', secret, () => clock, () => 0.5);
  t.is(f.lease?.expiresAt, 1_000_000 + 5_000, 'expires 5 s after the request was sent');
  t.is(f.lease?.durationMs, 5_000);
});
