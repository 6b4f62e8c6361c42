import { link, mkdir, readFile, rename, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { randomBase62, type Random } from '../../lib/random.ts';
import type { Queryable } from '../../storage/db.ts';
import type { SealManager } from './seal-manager.ts';
import { newTokenValue, type Tokens } from '../tokens/tokens.ts';

interface DevCredentials {
  unseal_key: string;
  root_token: string;
}

export interface DevSealDeps {
  dataDir: string;
  seal: SealManager;
  tokens: Tokens;
  random: Random;
  /** Extra work in the initialising transaction (dev mounts). */
  onInitialize: (q: Queryable, rootKey: Buffer) => Promise<void>;
}

const FILE = 'dev-credentials.json';

async function readCreds(path: string): Promise<DevCredentials | null> {
  try {
    const v = JSON.parse(await readFile(path, 'utf8')) as Partial<DevCredentials>;
    if (typeof v.unseal_key !== 'string' || typeof v.root_token !== 'string') throw new Error(`${path} is malformed`);
    return { unseal_key: v.unseal_key, root_token: v.root_token };
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw e;
  }
}

/**
 * Dev mode: a 1-of-1 shamir seal whose key and root token live in DATA/dev-credentials.json (mode 0600),
 * so that restarts, and replicas sharing DATA and one PostgreSQL, unseal themselves with the same key.
 * Returns the root token and unseal key to print.
 */
export async function bootDevSeal(deps: DevSealDeps, rootTokenFlag?: string): Promise<DevCredentials> {
  await mkdir(deps.dataDir, { recursive: true, mode: 0o700 });
  const path = join(deps.dataDir, FILE);
  let creds = await readCreds(path);
  // A replica sharing DATA links the file before it initialises storage: when storage is initialised, the file is
  // there, even if it was not when this process first looked.
  if (!creds && (await deps.seal.isInitialized())) creds = await readCreds(path);
  else if (!creds) {
    const fresh: DevCredentials = {
      unseal_key: deps.random.bytes(32).toString('base64'),
      root_token: rootTokenFlag ?? newTokenValue(deps.random),
    };
    // Written whole to a private temp file, then linked into place: link() fails if a replica sharing DATA got
    // there first, and nobody ever reads a half-written file.
    const tmp = `${path}.${process.pid}.${randomBase62(deps.random, 8)}.tmp`;
    await writeFile(tmp, `${JSON.stringify(fresh)}\n`, { mode: 0o600, flag: 'wx' });
    try {
      await link(tmp, path);
      creds = fresh;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      creds = await readCreds(path);
    } finally {
      await unlink(tmp);
    }
  }
  if (!creds) throw new Error(`storage is already initialised but ${path} is missing: dev mode cannot unseal it`);
  const rootKey = Buffer.from(creds.unseal_key, 'base64');
  const rootToken = creds.root_token;
  if (!(await deps.seal.isInitialized())) {
    await deps.seal.initialize({ shares: 1, threshold: 1, rootKey }, async (q, key) => {
      await deps.tokens.ensureRoot(rootToken, q, key);
      await deps.onInitialize(q, key);
    });
  }
  await deps.seal.unsealWithRootKey(rootKey);
  rootKey.fill(0);
  if (rootTokenFlag && rootTokenFlag !== creds.root_token) {
    // The old dev root token stops working: one dev root token at a time.
    const old = await deps.tokens.lookup(creds.root_token);
    if (old) await deps.tokens.revoke(old.accessor);
    creds = { ...creds, root_token: rootTokenFlag };
    const tmp = `${path}.${process.pid}.${randomBase62(deps.random, 8)}.tmp`;
    await writeFile(tmp, `${JSON.stringify(creds)}\n`, { mode: 0o600, flag: 'wx' });
    await rename(tmp, path);
  }
  await deps.tokens.ensureRoot(creds.root_token);
  return creds;
}
