import { createHash, createPrivateKey, createPublicKey, sign, verify, type KeyObject } from 'node:crypto';

/**
 * C2SP signed notes (c2sp.org/signed-note), checkpoints (c2sp.org/tlog-checkpoint) and Ed25519 cosignatures
 * (c2sp.org/tlog-cosignature, cosignature/v1). Pure: keys come in as raw 32-byte Ed25519 seeds and public keys.
 *
 *   <origin>\n<tree size>\n<base64 root hash>\n      the note text (the checkpoint body)
 *   \n                                              a blank line
 *   — <key name> <base64(key id ‖ signature)>\n     one line per signature
 *
 * Ed25519 note signature: key id = SHA-256(name ‖ 0x0A ‖ 0x01 ‖ public key)[:4], signature over the note text.
 * Cosignature/v1: key id = SHA-256(name ‖ 0x0A ‖ 0x04 ‖ public key)[:4], then an 8-byte big-endian timestamp and the
 * signature over "cosignature/v1\ntime <timestamp>\n" ‖ note text.
 */

export const SIG_ED25519 = 0x01;
export const SIG_COSIGNATURE_V1 = 0x04;
const DASH = '\u2014 ';

const PKCS8_ED25519 = Buffer.from('302e020100300506032b657004220420', 'hex');
const SPKI_ED25519 = Buffer.from('302a300506032b6570032100', 'hex');

export function ed25519PrivateKey(seed: Uint8Array): { key: KeyObject; publicKey: Buffer } {
  const der = Buffer.concat([PKCS8_ED25519, seed]);
  const key = createPrivateKey({ key: der, format: 'der', type: 'pkcs8' });
  der.fill(0);
  const spki = createPublicKey(key).export({ format: 'der', type: 'spki' });
  return { key, publicKey: Buffer.from(spki.subarray(spki.length - 32)) };
}

export function ed25519Verify(publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean {
  if (publicKey.length !== 32 || signature.length !== 64) return false;
  try {
    const key = createPublicKey({ key: Buffer.concat([SPKI_ED25519, publicKey]), format: 'der', type: 'spki' });
    return verify(null, message, key, signature);
  } catch {
    return false;
  }
}

export const keyId = (name: string, type: number, publicKey: Uint8Array): Buffer =>
  createHash('sha256').update(name, 'utf8').update(Buffer.from([0x0a, type])).update(publicKey).digest().subarray(0, 4);

/** A key name: non-empty, no whitespace, no '+' (c2sp.org/signed-note). */
export const validName = (name: string): boolean => /^[^\s+]+$/u.test(name);

/** A verifier key: `<name>+<hex key id>+<base64(type ‖ public key)>`. */
export const encodeVkey = (name: string, type: number, publicKey: Uint8Array): string =>
  `${name}+${keyId(name, type, publicKey).toString('hex')}+${Buffer.concat([Buffer.from([type]), publicKey]).toString('base64')}`;

export interface Vkey {
  name: string;
  type: number;
  publicKey: Buffer;
  id: Buffer;
}

export function parseVkey(text: string): Vkey | null {
  // <name>+<key id hex>+<base64 key>: names hold no '+', but the base64 key may (split on the first two only).
  const t = text.trim();
  const i = t.indexOf('+');
  const j = i < 0 ? -1 : t.indexOf('+', i + 1);
  if (j < 0) return null;
  const name = t.slice(0, i);
  const idHex = t.slice(i + 1, j);
  const b64 = t.slice(j + 1);
  if (!/^[A-Za-z0-9+/]+=*$/.test(b64)) return null;
  if (!validName(name) || !/^[0-9a-f]{8}$/.test(idHex)) return null;
  const raw = Buffer.from(b64, 'base64');
  if (raw.length !== 33) return null;
  const type = raw[0] ?? 0;
  const publicKey = raw.subarray(1);
  const id = keyId(name, type, publicKey);
  return id.toString('hex') === idHex ? { name, type, publicKey, id } : null;
}

/** A checkpoint's text; `extensions` are lines after the root hash (tlog-checkpoint extension lines, e.g. `mac-from 1`). */
export function checkpointBody(origin: string, size: number, root: Uint8Array, extensions: readonly string[] = []): string {
  return `${origin}\n${size}\n${Buffer.from(root).toString('base64')}\n${extensions.map((l) => `${l}\n`).join('')}`;
}

export interface CheckpointBody {
  origin: string;
  size: number;
  root: Buffer;
  /** The extension lines after the root hash (signed with the rest). */
  extensions: string[];
}

export function parseCheckpointBody(body: string): CheckpointBody | null {
  const lines = body.split('\n');
  if (lines.length < 4 || lines.at(-1) !== '') return null;
  const [origin, size, root] = lines as [string, string, string];
  if (!validName(origin) || !/^(0|[1-9]\d{0,15})$/.test(size) || !/^[A-Za-z0-9+/]{43}=$/.test(root)) return null;
  if (lines.slice(3, -1).some((l) => l === '')) return null;
  const n = Number(size);
  if (!Number.isSafeInteger(n)) return null;
  return { origin, size: n, root: Buffer.from(root, 'base64'), extensions: lines.slice(3, -1) };
}

export interface SignatureLine {
  name: string;
  id: Buffer;
  /** What follows the key id: the Ed25519 signature, or a cosignature's timestamp and signature. */
  payload: Buffer;
  line: string;
}

/** Splits a signed note into its text and its signature lines; null if it is not one. */
export function parseNote(note: string): { body: string; signatures: SignatureLine[] } | null {
  const cut = note.lastIndexOf('\n\n');
  if (cut < 0 || !note.endsWith('\n')) return null;
  const body = note.slice(0, cut + 1);
  const signatures: SignatureLine[] = [];
  for (const line of note.slice(cut + 2, -1).split('\n')) {
    const sig = parseSignatureLine(line);
    if (!sig) return null;
    signatures.push(sig);
  }
  return signatures.length > 0 ? { body, signatures } : null;
}

export function parseSignatureLine(line: string): SignatureLine | null {
  const m = /^\u2014 (\S+) ([A-Za-z0-9+/]+={0,2})$/u.exec(line.replace(/\n$/, ''));
  if (!m || !validName(m[1] ?? '')) return null;
  const raw = Buffer.from(m[2] ?? '', 'base64');
  if (raw.length < 5) return null;
  return { name: m[1] ?? '', id: raw.subarray(0, 4), payload: raw.subarray(4), line: `${DASH}${m[1] ?? ''} ${m[2] ?? ''}` };
}

/** The signature line of `body` by an Ed25519 key (note signature type 0x01). */
export function signatureLine(body: string, name: string, key: { key: KeyObject; publicKey: Buffer }): string {
  const sig = sign(null, Buffer.from(body, 'utf8'), key.key);
  return `${DASH}${name} ${Buffer.concat([keyId(name, SIG_ED25519, key.publicKey), sig]).toString('base64')}`;
}

export const signNote = (body: string, name: string, key: { key: KeyObject; publicKey: Buffer }): string =>
  `${body}\n${signatureLine(body, name, key)}\n`;

/** Whether one of the note's signature lines is a valid Ed25519 signature of its text by (name, publicKey). */
export function noteSignedBy(note: { body: string; signatures: readonly SignatureLine[] }, name: string, publicKey: Uint8Array): boolean {
  const id = keyId(name, SIG_ED25519, publicKey);
  return note.signatures.some((s) => s.name === name && s.id.equals(id) && ed25519Verify(publicKey, Buffer.from(note.body, 'utf8'), s.payload));
}

const cosignedMessage = (body: string, timestamp: number): Buffer => Buffer.from(`cosignature/v1\ntime ${timestamp}\n${body}`, 'utf8');

/** A cosignature/v1 line for a checkpoint body, at `timestamp` (whole seconds since the epoch). */
export function cosignatureLine(body: string, name: string, key: { key: KeyObject; publicKey: Buffer }, timestamp: number): string {
  const ts = Buffer.alloc(8);
  ts.writeBigUInt64BE(BigInt(timestamp));
  const sig = sign(null, cosignedMessage(body, timestamp), key.key);
  return `${DASH}${name} ${Buffer.concat([keyId(name, SIG_COSIGNATURE_V1, key.publicKey), ts, sig]).toString('base64')}`;
}

/** The timestamp of a valid cosignature/v1 by (name, publicKey) on `body`, or null. */
export function cosignatureTime(body: string, sig: SignatureLine, name: string, publicKey: Uint8Array): number | null {
  if (sig.name !== name || !sig.id.equals(keyId(name, SIG_COSIGNATURE_V1, publicKey)) || sig.payload.length !== 72) return null;
  const ts = sig.payload.readBigUInt64BE(0);
  if (ts > BigInt(Number.MAX_SAFE_INTEGER)) return null;
  const t = Number(ts);
  return ed25519Verify(publicKey, cosignedMessage(body, t), sig.payload.subarray(8)) ? t : null;
}
