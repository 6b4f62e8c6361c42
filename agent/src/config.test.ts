// The messages the config's zod schema gives (config.ts, zod/mini). Issue 18 had replaced the first zod schema with
// checks by hand for memory, keeping its messages; the zod/mini schema that came back (issue 16) gave the same result
// or first error as those checks over ~39,000 mutated documents.
import test from 'ava';
import { validateConfig } from './config.ts';

const base = { broker: { address: 'https://x' }, auth: { method: 'token', token_file: 't' }, secrets: [{ path: 'a', destination: 'a' }] };
const err = (doc: unknown): string | undefined => {
  try {
    validateConfig(doc, '/');
    return undefined;
  } catch (e) {
    return (e as Error).message;
  }
};

test('the whole document, and auth chosen by method', (t) => {
  t.is(err(undefined), 'the config is required');
  t.is(err([]), 'the config must be a mapping (object) with broker, auth and secrets');
  t.is(err({ ...base, broker: undefined }), 'broker: is required (with address)');
  t.is(err({ ...base, auth: undefined }), 'auth: is required (one of: approle, kubernetes, jwt, token, cert)');
  t.is(err({ ...base, auth: 'x' }), 'auth: must be a mapping (object)');
  t.is(err({ ...base, auth: {} }), 'auth.method: is required (one of: approle, kubernetes, jwt, token, cert)');
  t.is(err({ ...base, auth: { method: 5 } }), 'auth.method: unknown auth method "5" (expected one of: approle, kubernetes, jwt, token, cert)');
  t.is(err({ ...base, auth: { method: 'token', token_file: 't', mount: 'm' } }), 'auth.mount: unknown field');
  t.is(err({ ...base, broker: { address: 'ftp://x/' } }), 'broker.address: "ftp://x" is not an http(s) URL');
  t.is(err({ ...base, log_level: 'loud' }), 'log_level: must be one of fatal, error, warn, info, debug, trace, silent');
  t.is(err({ ...base, retry: [] }), 'retry: must be a mapping (object)');
});

test('fields in order, then unknown fields, then rules between fields', (t) => {
  // An unknown field of broker comes before a missing field of auth (broker is checked first) ...
  t.is(err({ ...base, broker: { address: 'https://x', bogus: 1 }, auth: { method: 'jwt' } }), 'broker.bogus: unknown field');
  // ... and after a bad known field of the same mapping, wherever the unknown one stands.
  t.is(err({ ...base, secrets: [{ bogus: 1, path: 'a', destination: 'a', mode: 'x' }] }), 'secrets[0].mode: must be an octal file mode such as "0400" or "0640"');
  t.is(err({ ...base, secrets: [{ path: 'a', destination: 'a', template: 'x', template_file: 'y', bogus: 1 }] }), 'secrets[0].bogus: unknown field');
  t.is(err({ ...base, secrets: [{ path: 'a', destination: 'a', template: 'x', template_file: 'y' }] }), 'secrets[0].template_file: give either template or template_file, not both');
  t.is(err({ ...base, secrets: [{ path: 'a', destination: 'a', uid: 1.5 }] }), 'secrets[0].uid: must be an integer from 0 to 2147483648');
  t.is(err({ ...base, secrets: [{ path: 'a', destination: 'a', on_change: { command: ['x'], signal: 'HUP', timeout: 'soon' } }] }), 'secrets[0].on_change.timeout: must be a duration such as "30s" or "5m" (at least 1 ms)');
  t.is(err({ ...base, secrets: [{ path: 'a', destination: 'a', on_change: { command: ['x'], signal: 'HUP' } }] }), 'secrets[0].on_change.command: give either command or signal + pid_file, not both');
  t.is(err({ ...base, secrets: [{ path: 'a', destination: 'a', on_change: { signal: 'BOGUS', pid_file: 'p' } }] }), 'secrets[0].on_change.signal: unknown signal "BOGUS" (expected one of: HUP, INT, QUIT, USR1, USR2, TERM, WINCH, ALRM, CONT)');
  t.is(err({ ...base, secrets: [null] }), 'secrets[0]: must be a mapping with path and destination');
  t.is(err({ ...base, secrets: [{ path: 'a', destination: 'a', params: [] }] }), 'secrets[0].params: must be a mapping, e.g. {common_name: web.example.com}');
  t.is(err({ ...base, secrets: [{ path: '  ', destination: 'a' }] }), 'secrets[0].path: must be a non-empty string');
});
