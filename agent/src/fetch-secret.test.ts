import test from 'ava';
import { secretData } from './fetch-secret.ts';

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
