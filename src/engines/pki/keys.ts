/**
 * Key types, key generation and private-key encodings. EC P-256 is the default everywhere. RSA key generation
 * costs 70–150 ms of CPU per key, so it runs only where a role or a CA request asks for it explicitly.
 */
import type { Algorithm, CryptoKey, CryptoKeyPair, EcKeyAlgorithm, EcKeyGenParams, EcKeyImportParams, EcdsaParams, KeyUsage, RsaHashedImportParams, RsaHashedKeyAlgorithm, RsaHashedKeyGenParams } from './x509.ts';
import { createPrivateKey, generateKeyPair as nodeGenerateKeyPair, type KeyObject } from 'node:crypto';
import { promisify } from 'node:util';
import { badRequest } from '../../lib/errors.ts';
import { subtle, toPem } from './x509.ts';

export type KeyType = 'ec' | 'rsa' | 'ed25519';
/** A role may also accept any key type in CSRs. */
export type RoleKeyType = KeyType | 'any';

export interface KeySpec {
  type: KeyType;
  /** 256/384/521 for EC, 2048/3072/4096 for RSA, 0 for Ed25519. */
  bits: number;
}

const EC_BITS = [256, 384, 521];
const RSA_BITS = [2048, 3072, 4096];
/** CA keys are made on an operator's request, but still not slower than 3072-bit RSA. */
const CA_RSA_BITS = [2048, 3072];

const CURVE: Record<number, string> = { 256: 'P-256', 384: 'P-384', 521: 'P-521' };
const EC_HASH: Record<number, string> = { 256: 'SHA-256', 384: 'SHA-384', 521: 'SHA-512' };

/** Vault's key_type/key_bits check; key_bits 0 picks the default size. `forCa` limits RSA to 2048 and 3072 bits. */
export function keySpec(type: string, bits: number, opts: { forCa?: boolean } = {}): KeySpec {
  if (type === 'ec') {
    const b = bits === 0 ? 256 : bits;
    if (!EC_BITS.includes(b)) throw badRequest(`key_bits: unsupported bit length for EC key: ${bits} (use 256, 384 or 521; P-224 is not supported)`);
    return { type, bits: b };
  }
  if (type === 'rsa') {
    const b = bits === 0 ? 2048 : bits;
    if (b < 2048) throw badRequest(`key_bits: RSA keys < 2048 bits are unsafe and not supported: got ${bits}`);
    const allowed = opts.forCa ? CA_RSA_BITS : RSA_BITS;
    if (!allowed.includes(b)) throw badRequest(`key_bits: unsupported bit length for RSA key: ${bits} (use ${allowed.join(' or ')})`);
    return { type, bits: b };
  }
  if (type === 'ed25519') return { type, bits: 0 };
  throw badRequest(`key_type: unsupported key_type "${type.slice(0, 32)}": use "ec" (default), "ed25519" or "rsa"`);
}

/** WebCrypto algorithm for import/generate. */
export function keyAlgorithm(spec: KeySpec): RsaHashedImportParams | EcKeyImportParams | Algorithm {
  if (spec.type === 'ec') return { name: 'ECDSA', namedCurve: CURVE[spec.bits] ?? 'P-256' };
  if (spec.type === 'rsa') return { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' };
  return { name: 'Ed25519' };
}

/** The signature algorithm a key of this type signs certificates and CRLs with. */
export function signingAlgorithm(spec: KeySpec): Algorithm | EcdsaParams {
  if (spec.type === 'ec') return { name: 'ECDSA', hash: EC_HASH[spec.bits] ?? 'SHA-256' };
  if (spec.type === 'rsa') return { name: 'RSASSA-PKCS1-v1_5' };
  return { name: 'Ed25519' };
}

export async function generateKeyPair(spec: KeySpec): Promise<CryptoKeyPair> {
  const usages: KeyUsage[] = ['sign', 'verify'];
  if (spec.type === 'rsa') {
    const alg: RsaHashedKeyGenParams = {
      name: 'RSASSA-PKCS1-v1_5',
      hash: 'SHA-256',
      modulusLength: spec.bits,
      publicExponent: new Uint8Array([1, 0, 1]),
    };
    return (await subtle.generateKey(alg, true, usages)) as CryptoKeyPair;
  }
  return (await subtle.generateKey(keyAlgorithm(spec) as EcKeyGenParams, true, usages)) as CryptoKeyPair;
}

/** PKCS #8 DER of an extractable private key. */
export async function exportPkcs8(key: CryptoKey): Promise<Buffer> {
  return Buffer.from(await subtle.exportKey('pkcs8', key));
}

export async function importSigningKey(pkcs8: Buffer, spec: KeySpec): Promise<CryptoKey> {
  return subtle.importKey('pkcs8', pkcs8, keyAlgorithm(spec), false, ['sign']);
}

export type PrivateKeyFormat = 'der' | 'pkcs8';

/**
 * The private key as Vault hands it out. `private_key_format` "der" (Vault's default name) means the key type's
 * own structure: SEC 1 "EC PRIVATE KEY", PKCS #1 "RSA PRIVATE KEY"; Ed25519 has none, so it is PKCS #8. With
 * `format` "der" the bytes are base64 instead of PEM.
 */
export function encodePrivateKey(key: Buffer | KeyObject, type: KeyType, keyFormat: PrivateKeyFormat, format: 'pem' | 'der'): string {
  const obj = Buffer.isBuffer(key) ? createPrivateKey({ key, format: 'der', type: 'pkcs8' }) : key;
  const structure = keyFormat === 'pkcs8' || type === 'ed25519' ? 'pkcs8' : type === 'ec' ? 'sec1' : 'pkcs1';
  const der = obj.export({ format: 'der', type: structure });
  const label = structure === 'pkcs8' ? 'PRIVATE KEY' : type === 'ec' ? 'EC PRIVATE KEY' : 'RSA PRIVATE KEY';
  return format === 'der' ? der.toString('base64') : toPem(der, label);
}

const generateNodeKeyPair = promisify(nodeGenerateKeyPair) as unknown as (
  type: 'ec' | 'rsa' | 'ed25519',
  options: { namedCurve?: string; modulusLength?: number },
) => Promise<{ publicKey: KeyObject; privateKey: KeyObject }>;

export interface LeafKeyPair {
  /** DER SubjectPublicKeyInfo. */
  publicKey: Buffer;
  privateKey: KeyObject;
}

/**
 * A leaf's key pair, made by node:crypto off the event loop. Cheaper on the request path than WebCrypto: the
 * private key is exported straight from the KeyObject (re-parsing a PKCS #8 export costs about 1 ms per key).
 */
export async function generateLeafKey(spec: KeySpec): Promise<LeafKeyPair> {
  const pair =
    spec.type === 'ec'
      ? await generateNodeKeyPair('ec', { namedCurve: CURVE[spec.bits] ?? 'P-256' })
      : spec.type === 'rsa'
        ? await generateNodeKeyPair('rsa', { modulusLength: spec.bits })
        : await generateNodeKeyPair('ed25519', {});
  return { publicKey: pair.publicKey.export({ format: 'der', type: 'spki' }), privateKey: pair.privateKey };
}

/** The key spec of a public key (a CSR's or a certificate's); throws a 400 for anything else. */
export function publicKeySpec(algorithm: Algorithm): KeySpec {
  const name = algorithm.name.toUpperCase();
  if (name === 'ECDSA') {
    const curve = (algorithm as EcKeyAlgorithm).namedCurve;
    const bits = Number(Object.entries(CURVE).find(([, c]) => c === curve)?.[0] ?? 0);
    if (bits === 0) throw badRequest(`unsupported EC curve "${String(curve).slice(0, 32)}"`);
    return { type: 'ec', bits };
  }
  if (name === 'RSASSA-PKCS1-V1_5' || name === 'RSA-PSS' || name === 'RSA-OAEP') {
    return { type: 'rsa', bits: (algorithm as RsaHashedKeyAlgorithm).modulusLength };
  }
  if (name === 'ED25519') return { type: 'ed25519', bits: 0 };
  throw badRequest(`unsupported public key algorithm "${algorithm.name.slice(0, 32)}"`);
}
