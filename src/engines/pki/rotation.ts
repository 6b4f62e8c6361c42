/**
 * Issuer rotation (issue 7) for a mount that holds a root it generated. Core's rotation state machine drives it
 * (id `<mount>issuer/default`):
 *   create: a new key pair (the configured key type), a new self-signed root with the current root's subject, and a
 *           cross-signed copy of it signed by the current root; all of it is the pending value (sealed by the runner).
 *   set:    store the new issuer, not yet default, at ca/next (idempotent).
 *   test:   sign a probe leaf with the new key and verify it chains to the new root and, through the cross-signed
 *           certificate, to the current one.
 *   finish: the new issuer becomes default (ca/bundle, its ca_chain = [new root, cross-signed]); the old one moves
 *           to ca/previous, which keeps signing its own CRL (issuer/previous/crl[/pem]) until it expires.
 *   retire: (issue 20, with a grace) the previous issuer signs leaves (issuer/previous/issue|sign/:role) until the
 *           consumers of cert/ca_chain acknowledged the new generation or the grace ended; then it is retired and
 *           signs only its CRL (issuer-retire.ts).
 */
import type { RotationTarget, StorageView } from '../../core/engine.ts';
import { badRequest } from '../../lib/errors.ts';
import { signCa, selfSignCa } from './certificate.ts';
import { createIssuerCache } from './issuer.ts';
import { exportPkcs8, generateKeyPair, signingAlgorithm, type KeySpec } from './keys.ts';
import { revokedEntries, signCrl } from './crl.ts';
import { CA_KEY, CRL_CONFIG_KEY, CRL_KEY, DEFAULT_CRL_CONFIG, DEFAULT_URLS, URLS_KEY, decode, encode, loadJson, type CaBundle, type CrlConfig, type PkiDeps, type UrlsConfig } from './model.ts';
import { newSerialHex, serialColons } from './serial.ts';
import { x509 } from './x509.ts';
import { CHAIN_CONSUMER_PATH, PREVIOUS_CA_KEY, generationOf, retirePreviousIssuer } from './issuer-retire.ts';

export const ISSUER_ROTATION_KIND = 'issuer';
export const ISSUER_ROTATION_TARGET = 'default';
export const ROTATION_CONFIG_KEY = 'config/issuer-rotation';
export const NEXT_CA_KEY = 'ca/next';
export { PREVIOUS_CA_KEY };

export interface IssuerRotationConfig {
  schedule: string | null;
  periodSeconds: number | null;
  /** Validity of each new root, seconds. */
  ttl: number;
  key: KeySpec;
}

interface Pending {
  bundle: CaBundle;
  /** The serial of the root the new one replaces. */
  replaces: string;
  /** The new issuer's generation: the cert/ca_chain version its consumers acknowledge before the retire step acts. */
  version: number;
}

function pendingOf(p: Readonly<Record<string, unknown>>): Pending {
  const bundle = p.bundle as CaBundle | undefined;
  if (!bundle || typeof bundle.certificate !== 'string' || typeof bundle.privateKey !== 'string' || typeof p.replaces !== 'string') {
    throw new Error('pending issuer rotation is malformed');
  }
  return { bundle, replaces: p.replaces, version: typeof p.version === 'number' ? p.version : generationOf(bundle) };
}

const noSans = { dns: [], emails: [], ips: [], uris: [] };

async function currentRoot(s: StorageView): Promise<CaBundle> {
  const bundle = await loadJson<CaBundle>(s, CA_KEY);
  if (!bundle) throw badRequest('issuer rotation needs a root: generate one with root/generate/internal');
  if (bundle.parents.length > 0 && bundle.crossSigned !== true) {
    throw badRequest('issuer rotation is supported only for a root generated on this mount, not for an intermediate');
  }
  return bundle;
}

export function issuerRotationTarget(deps: PkiDeps): RotationTarget {
  const mustConfig = async (): Promise<IssuerRotationConfig> => {
    const config = await loadJson<IssuerRotationConfig>(deps.storage, ROTATION_CONFIG_KEY);
    if (!config) throw badRequest('no issuer rotation configured at config/issuer-rotation');
    return config;
  };
  return {
    async check(target) {
      if (target !== ISSUER_ROTATION_TARGET) throw badRequest(`unknown issuer rotation target "${target.slice(0, 32)}"`);
      await mustConfig();
      await currentRoot(deps.storage);
    },
    async create() {
      const config = await mustConfig();
      const old = await currentRoot(deps.storage);
      const oldIssuer = await createIssuerCache().issuer(old);
      const urls = decode<UrlsConfig>(await deps.storage.get(URLS_KEY)) ?? DEFAULT_URLS;
      const now = deps.clock.now();
      const notBefore = new Date(now.getTime() - 30_000);
      const notAfter = new Date(now.getTime() + config.ttl * 1000);
      const subject = oldIssuer.cert.subjectName.toJSON();
      const keys = await generateKeyPair(config.key);
      const root = await selfSignCa(
        { subject, sans: noSans, serialHex: newSerialHex(deps.random), notBefore, notAfter, maxPathLength: -1, urls },
        keys,
        signingAlgorithm(config.key),
      );
      // The cross-signed copy cannot outlive the root that signs it.
      const crossNotAfter = notAfter < oldIssuer.cert.notAfter ? notAfter : oldIssuer.cert.notAfter;
      const cross = await signCa(
        oldIssuer,
        { subject, sans: noSans, serialHex: newSerialHex(deps.random), notBefore, notAfter: crossNotAfter, maxPathLength: -1, urls },
        root.publicKey,
      );
      const bundle: CaBundle = {
        certificate: root.toString('pem'),
        parents: [cross.toString('pem')],
        key: config.key,
        privateKey: (await exportPkcs8(keys.privateKey)).toString('base64'),
        serial: serialColons(root.serialNumber),
        notAfter: root.notAfter.toISOString(),
        crossSigned: true,
        generation: generationOf(old) + 1,
      };
      const pending: Pending = { bundle, replaces: old.serial, version: generationOf(old) + 1 };
      return { ...pending };
    },
    async set(ctx, raw) {
      const p = pendingOf(raw);
      await deps.storage.locked(CA_KEY, async (s) => {
        const current = await loadJson<CaBundle>(s, CA_KEY);
        if (current?.serial === p.bundle.serial) return; // already finished
        if (current?.serial !== p.replaces) {
          throw new Error(`the default issuer changed during rotation ${ctx.id}; not installing the new issuer`);
        }
        await s.put(NEXT_CA_KEY, encode(p.bundle));
      });
    },
    async test(_ctx, raw) {
      const p = pendingOf(raw);
      const old = await loadJson<CaBundle>(deps.storage, CA_KEY);
      const oldRoot = p.replaces === old?.serial ? old : await loadJson<CaBundle>(deps.storage, PREVIOUS_CA_KEY);
      if (!oldRoot || oldRoot.serial !== p.replaces) throw new Error('the issuer being replaced is gone');
      const issuer = await createIssuerCache().issuer(p.bundle);
      const probeKeys = await generateKeyPair({ type: 'ec', bits: 256 });
      const now = deps.clock.now();
      const leaf = await x509.X509CertificateGenerator.create({
        serialNumber: newSerialHex(deps.random),
        subject: 'CN=sealbox issuer rotation probe',
        issuer: issuer.cert.subjectName,
        notBefore: new Date(now.getTime() - 1000),
        notAfter: new Date(now.getTime() + 60_000),
        publicKey: probeKeys.publicKey,
        signingKey: issuer.signingKey,
        signingAlgorithm: issuer.signingAlgorithm,
      });
      const cross = new x509.X509Certificate(p.bundle.parents[0] ?? '');
      const oldCert = new x509.X509Certificate(oldRoot.certificate);
      const ok =
        (await leaf.verify({ publicKey: issuer.cert.publicKey, signatureOnly: true })) &&
        (await issuer.cert.verify({ publicKey: issuer.cert.publicKey, signatureOnly: true })) &&
        (await leaf.verify({ publicKey: cross.publicKey, signatureOnly: true })) &&
        (await cross.verify({ publicKey: oldCert.publicKey, signatureOnly: true })) &&
        cross.subject === issuer.cert.subject &&
        cross.issuer === oldCert.subject;
      if (!ok) throw new Error('the new issuer does not chain to the new root and, through the cross-signed certificate, to the old one');
    },
    async finish(_ctx, raw) {
      const p = pendingOf(raw);
      await deps.storage.locked(CA_KEY, async (s) => {
        const current = await loadJson<CaBundle>(s, CA_KEY);
        if (current?.serial === p.bundle.serial) return; // already finished
        if (!current || current.serial !== p.replaces) throw new Error('the default issuer changed during the rotation');
        await s.put(PREVIOUS_CA_KEY, encode(current));
        await s.put(CA_KEY, encode(p.bundle));
        await s.delete([NEXT_CA_KEY, CRL_KEY, PREVIOUS_CRL_KEY]);
      });
      deps.log.info({ serial: p.bundle.serial, replaces: p.replaces }, 'pki default issuer rotated');
    },
    consumerPath: () => CHAIN_CONSUMER_PATH,
    /** Something to retire: the issuer this run replaced is ca/previous, not retired and not expired. */
    async retires(_ctx, raw) {
      const p = pendingOf(raw);
      const previous = await loadJson<CaBundle>(deps.storage, PREVIOUS_CA_KEY);
      return previous?.serial === p.replaces && !previous.retiredAt && Date.parse(previous.notAfter) > deps.clock.now().getTime();
    },
    async retire(_ctx, raw) {
      await retirePreviousIssuer(deps, pendingOf(raw).replaces);
    },
  };
}

export const PREVIOUS_CRL_KEY = 'crl/previous';

/**
 * The CRL of the previous issuer during the overlap window, signed by its key and rebuilt on every fetch (so every
 * revocation shows at once; the CRL number still only grows). It lists the mount's whole revoked set: serials are
 * random and unique per mount, so entries issued by the other issuer are inert. Null when there is no previous
 * issuer or it has expired.
 */
export async function previousIssuerCrl(deps: PkiDeps): Promise<Buffer | null> {
  return deps.storage.locked(PREVIOUS_CRL_KEY, async (s) => {
    const found = await s.getMany([PREVIOUS_CA_KEY, PREVIOUS_CRL_KEY]);
    const bundle = decode<CaBundle>(found.get(PREVIOUS_CA_KEY));
    const now = deps.clock.now();
    if (!bundle || Date.parse(bundle.notAfter) <= now.getTime()) return null;
    const config = (await loadJson<CrlConfig>(s, CRL_CONFIG_KEY)) ?? DEFAULT_CRL_CONFIG;
    const number = (decode<{ number: number }>(found.get(PREVIOUS_CRL_KEY))?.number ?? 0) + 1;
    const issuer = await createIssuerCache().issuer(bundle);
    const crl = await signCrl(issuer, await revokedEntries(s), number, now, new Date(now.getTime() + config.expiry * 1000));
    await s.put(PREVIOUS_CRL_KEY, encode({ number }));
    return Buffer.from(crl.rawData);
  });
}
