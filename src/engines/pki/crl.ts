/**
 * The certificate revocation list: signed by the CA, listing every revoked certificate, with a CRL number and the
 * CA's key identifier. It is rebuilt on every revoke and whenever a fetch (or the scheduled job) finds it past its
 * refresh point: nextUpdate minus config/crl's auto_rebuild_grace_period.
 */
import type { StorageView } from '../../core/engine.ts';
import type { Issuer, IssuerCache } from './issuer.ts';
import {
  CA_KEY,
  CRL_CONFIG_KEY,
  CRL_KEY,
  DEFAULT_CRL_CONFIG,
  decode,
  encode,
  revokedKey,
  type CaBundle,
  type CrlConfig,
  type PkiDeps,
  type RevokedEntry,
  type StoredCrl,
} from './model.ts';
import { x509 } from './x509.ts';

const OID_CRL_NUMBER = '2.5.29.20';
const BATCH = 500;

/** DER INTEGER of a non-negative number. */
function derInteger(n: number): Buffer {
  let hex = n.toString(16);
  if (hex.length % 2 === 1) hex = `0${hex}`;
  let body = Buffer.from(hex, 'hex');
  if ((body[0] ?? 0) & 0x80) body = Buffer.concat([Buffer.from([0]), body]);
  return Buffer.concat([Buffer.from([0x02, body.length]), body]);
}

export async function revokedEntries(s: StorageView): Promise<RevokedEntry[]> {
  const keys = (await s.list('revoked/')).filter((k) => !k.endsWith('/'));
  const out: RevokedEntry[] = [];
  for (let i = 0; i < keys.length; i += BATCH) {
    const found = await s.getMany(keys.slice(i, i + BATCH).map(revokedKey));
    for (const raw of found.values()) {
      const e = decode<RevokedEntry>(raw);
      if (e) out.push(e);
    }
  }
  return out;
}

export async function signCrl(issuer: Issuer, entries: RevokedEntry[], number: number, thisUpdate: Date, nextUpdate: Date): Promise<x509.X509Crl> {
  const ski = issuer.cert.getExtension(x509.SubjectKeyIdentifierExtension);
  const extensions: x509.Extension[] = [new x509.Extension(OID_CRL_NUMBER, false, derInteger(number))];
  if (ski) extensions.push(new x509.AuthorityKeyIdentifierExtension(ski.keyId));
  return x509.X509CrlGenerator.create({
    issuer: issuer.cert.subjectName,
    thisUpdate,
    nextUpdate,
    signingKey: issuer.signingKey,
    signingAlgorithm: issuer.signingAlgorithm,
    extensions,
    entries: entries.map((e) => ({ serialNumber: e.serial.replace(/[:-]/g, ''), revocationDate: new Date(e.revocationTime * 1000) })),
  });
}

/** Whether a stored CRL must be rebuilt: none yet, signed by another CA, or past its refresh point. */
export function crlDue(crl: StoredCrl | null, bundle: CaBundle, config: CrlConfig, now: Date): boolean {
  if (!crl || crl.caSerial !== bundle.serial) return true;
  return now.getTime() >= Date.parse(crl.nextUpdate) - config.autoRebuildGracePeriod * 1000;
}

/**
 * Rebuilds and stores the CRL inside one lock (replicas never interleave two rebuilds). With `onlyIfDue`, the
 * refresh point is checked again under the lock, so that of many fetches that found the CRL due at the same moment
 * only the first rebuilds it (and bumps the CRL number); the others get the fresh one. Null when there is no CA.
 */
export async function rebuildCrl(deps: PkiDeps, cache: IssuerCache, opts: { onlyIfDue?: boolean } = {}): Promise<StoredCrl | null> {
  return deps.storage.locked(CRL_KEY, async (s) => {
    const found = await s.getMany([CA_KEY, CRL_KEY, CRL_CONFIG_KEY]);
    const bundle = decode<CaBundle>(found.get(CA_KEY));
    if (!bundle) return null;
    const previous = decode<StoredCrl>(found.get(CRL_KEY));
    const config = decode<CrlConfig>(found.get(CRL_CONFIG_KEY)) ?? DEFAULT_CRL_CONFIG;
    const now = deps.clock.now();
    if (opts.onlyIfDue && previous && !crlDue(previous, bundle, config, now)) return previous;
    const issuer = await cache.issuer(bundle);
    const nextUpdate = new Date(now.getTime() + config.expiry * 1000);
    const number = (previous?.number ?? 0) + 1;
    const crl = await signCrl(issuer, config.disable ? [] : await revokedEntries(s), number, now, nextUpdate);
    const stored: StoredCrl = {
      der: Buffer.from(crl.rawData).toString('base64'),
      thisUpdate: now.toISOString(),
      nextUpdate: nextUpdate.toISOString(),
      number,
      caSerial: bundle.serial,
    };
    await s.put(CRL_KEY, encode(stored));
    return stored;
  });
}

interface Coalescer {
  running: Promise<StoredCrl | null> | null;
  next: Promise<StoredCrl | null> | null;
}
/** Per engine (its issuer cache): the rebuild in progress in this process, and the one queued behind it. */
const coalescers = new WeakMap<IssuerCache, Coalescer>();

/**
 * A rebuild after a change to the revoked set (revoke, tidy), coalesced within this process: a caller resolves only
 * after a rebuild that started after its call, but many concurrent callers (revoking many leased certificates at
 * once) share one queued rebuild instead of running one each, every one of which reads the whole revoked set.
 */
export function rebuildCrlAfterChange(deps: PkiDeps, cache: IssuerCache): Promise<StoredCrl | null> {
  let c = coalescers.get(cache);
  if (!c) {
    c = { running: null, next: null };
    coalescers.set(cache, c);
  }
  const state = c;
  const start = (): Promise<StoredCrl | null> => {
    const run = rebuildCrl(deps, cache).finally(() => {
      if (state.running === run) state.running = null;
    });
    state.running = run;
    return run;
  };
  if (!state.running) return start();
  if (!state.next) {
    state.next = state.running
      .catch(() => null)
      .then(() => {
        state.next = null;
        return start();
      });
  }
  return state.next;
}

/** The current CRL as DER, rebuilt first if due. Null when the mount has no CA. */
export async function currentCrl(deps: PkiDeps, cache: IssuerCache): Promise<Buffer | null> {
  const found = await deps.storage.getMany([CA_KEY, CRL_KEY, CRL_CONFIG_KEY]);
  const bundle = decode<CaBundle>(found.get(CA_KEY));
  if (!bundle) return null;
  let crl = decode<StoredCrl>(found.get(CRL_KEY));
  if (crlDue(crl, bundle, decode<CrlConfig>(found.get(CRL_CONFIG_KEY)) ?? DEFAULT_CRL_CONFIG, deps.clock.now())) {
    crl = await rebuildCrl(deps, cache, { onlyIfDue: true });
  }
  return crl ? Buffer.from(crl.der, 'base64') : null;
}

/**
 * The scheduled CRL job (DESIGN §6 "CRL rebuild"): rebuilds the CRL when it is past its refresh point.
 * Idempotent and safe on every replica at once (the rebuild runs under a storage lock and checks again there).
 */
export async function rebuildCrlIfDue(deps: PkiDeps, cache: IssuerCache): Promise<'rebuilt' | 'fresh' | 'no-ca'> {
  const found = await deps.storage.getMany([CA_KEY, CRL_KEY, CRL_CONFIG_KEY]);
  const bundle = decode<CaBundle>(found.get(CA_KEY));
  if (!bundle) return 'no-ca';
  const config = decode<CrlConfig>(found.get(CRL_CONFIG_KEY)) ?? DEFAULT_CRL_CONFIG;
  if (!crlDue(decode<StoredCrl>(found.get(CRL_KEY)), bundle, config, deps.clock.now())) return 'fresh';
  await rebuildCrl(deps, cache, { onlyIfDue: true });
  return 'rebuilt';
}
