// Whether a shared user is still held (issue 20, review of the ticket rows): a ticket that does not open (forged or
// moved by a database writer) holds nothing, but any other failure while reading a ticket is not evidence that the
// user is free, so it is thrown and the release that asked fails (and is retried) instead of dropping the user.
import test from 'ava';
import type { StorageView } from '../../core/engine.ts';
import { integrityError } from '../../core/barrier/envelope.ts';
import { AppError } from '../../lib/errors.ts';
import { createLogger } from '../../lib/log.ts';
import { held, ticketKey } from './shared-record.ts';

const log = createLogger({ level: 'silent' });
const key = 'shared/app/abc';

/** A view with one ticket row of v-u1 whose read does what `read` says. */
function viewWith(read: () => Promise<Buffer | null>): StorageView {
  return {
    get: (k) => (k === ticketKey(key, 'v-u1', 't1') ? read() : Promise.resolve(null)),
    getMany: () => Promise.resolve(new Map()),
    put: () => Promise.resolve(),
    delete: () => Promise.resolve(),
    deletePrefix: () => Promise.resolve(),
    list: (prefix) => Promise.resolve(prefix === `${key}/t/v-u1/` ? ['t1'] : []),
  };
}
const empty = { current: null, users: {} };

test('a ticket that opens holds the user; one that fails its integrity check holds nothing', async (t) => {
  t.true(await held(viewWith(() => Promise.resolve(Buffer.from('{"at":"2026-12-03T00:00:00Z"}'))), key, 'v-u1', empty, log));
  t.false(await held(viewWith(() => Promise.reject(integrityError())), key, 'v-u1', empty, log));
});

test('any other failure reading a ticket is thrown, never read as "free"', async (t) => {
  const unknownTerm = new AppError('internal', 'stored value uses an unknown key term');
  await t.throwsAsync(held(viewWith(() => Promise.reject(unknownTerm)), key, 'v-u1', empty, log), { message: /unknown key term/ });
  await t.throwsAsync(held(viewWith(() => Promise.reject(new Error('Connection terminated unexpectedly'))), key, 'v-u1', empty, log), { message: /Connection terminated/ });
});

test('tickets an older broker kept in the record hold the user without a row', async (t) => {
  t.true(await held(viewWith(() => Promise.resolve(null)), key, 'v-u2', { current: null, users: { 'v-u2': ['t0'] } }, log));
});
