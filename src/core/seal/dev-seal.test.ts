// Dev mode's credentials file and replicas that share DATA (the race CI found under load): a replica links
// dev-credentials.json before it initialises storage, so a second replica that looked for the file a moment too early
// and then finds storage initialised must read the file again, not give up.
import test from 'ava';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bootDevSeal, type DevSealDeps } from './dev-seal.ts';
import { createSeededRandom } from '../../lib/seeded-random.ts';

type Seal = DevSealDeps['seal'];
type Tokens = DevSealDeps['tokens'];

function fakes(onFirstCheck: () => Promise<void>) {
  let initialised = false;
  let checks = 0;
  const unsealedWith: string[] = [];
  const seal = {
    isInitialized: async () => {
      if (checks++ === 0) {
        await onFirstCheck();
        initialised = true;
      }
      return initialised;
    },
    initialize: () => Promise.reject(new Error('this replica must not initialise: the other one did')),
    unsealWithRootKey: (key: Buffer) => {
      unsealedWith.push(key.toString('base64'));
      return Promise.resolve();
    },
  } as unknown as Seal;
  const tokens = { ensureRoot: () => Promise.resolve(), lookup: () => Promise.resolve(null), revoke: () => Promise.resolve() } as unknown as Tokens;
  return { seal, tokens, unsealedWith };
}

test('a replica that missed the file by a moment reads it once storage is initialised, and unseals with its key', async (t) => {
  const dataDir = await mkdtemp(join(tmpdir(), 'sealbox-devseal-'));
  t.teardown(() => rm(dataDir, { recursive: true, force: true }));
  const other = { unseal_key: Buffer.alloc(32, 7).toString('base64'), root_token: 'other-root' };
  // Between this replica's read of the file and its look at storage, the other replica links the file and initialises.
  const { seal, tokens, unsealedWith } = fakes(() => writeFile(join(dataDir, 'dev-credentials.json'), `${JSON.stringify(other)}\n`, { mode: 0o600 }));
  const creds = await bootDevSeal({ dataDir, seal, tokens, random: createSeededRandom('dev-seal'), onInitialize: () => Promise.resolve() });
  t.deepEqual(creds, other);
  t.deepEqual(unsealedWith, [other.unseal_key]);
  t.is(JSON.parse(await readFile(join(dataDir, 'dev-credentials.json'), 'utf8')).root_token, 'other-root');
});

test('initialised storage with no credentials file at all is still refused with the message that says why', async (t) => {
  const dataDir = await mkdtemp(join(tmpdir(), 'sealbox-devseal-'));
  t.teardown(() => rm(dataDir, { recursive: true, force: true }));
  const { seal, tokens } = fakes(() => Promise.resolve());
  const err = await t.throwsAsync(bootDevSeal({ dataDir, seal, tokens, random: createSeededRandom('dev-seal'), onInitialize: () => Promise.resolve() }));
  t.regex(err?.message ?? '', /storage is already initialised but .*dev-credentials\.json is missing/);
});
