import { readFile } from 'node:fs/promises';
import { badRequest } from '../../lib/errors.ts';
import { decodeKey, type SealManager } from './seal-manager.ts';

/** Loads a static seal's 32-byte root key from a file or a value (hex or base64). */
export async function loadStaticKey(opts: { keyFile?: string; key?: string }): Promise<Buffer> {
  const text = opts.keyFile ? await readFile(opts.keyFile, 'utf8') : (opts.key ?? '');
  const key = decodeKey(text);
  if (key.length !== 32) throw badRequest('static seal key must be 32 bytes (hex or base64)');
  return key;
}

/** Static seal: once initialised, the broker unseals itself at boot with the configured key. */
export async function bootStaticSeal(seal: SealManager, rootKey: Buffer): Promise<void> {
  if (await seal.isInitialized()) await seal.unsealWithRootKey(rootKey);
}
