/** Revoking a stored certificate: mark it, add it to revoked/, rebuild the CRL. Repeating a revoke changes nothing. */
import { badRequest } from '../../lib/errors.ts';
import { rebuildCrlAfterChange } from './crl.ts';
import type { IssuerCache } from './issuer.ts';
import { CA_KEY, certKey, decode, encode, revokedKey, unix, type CaBundle, type PkiDeps, type RevokedEntry, type StoredCert } from './model.ts';
import { serialFromKey, serialKey } from './serial.ts';

export interface RevokeResult {
  /** Unix seconds; 0 when nothing was revoked (expired, or missing with missingOk). */
  revocationTime: number;
  warnings: string[];
}

/**
 * Revokes the certificate with this serial. `missingOk` (the lease manager's revoke) treats an unknown serial
 * as already gone; the API answers 400 for it, as Vault does.
 */
export async function revokeSerial(deps: PkiDeps, cache: IssuerCache, serialInput: string, opts: { missingOk?: boolean } = {}): Promise<RevokeResult> {
  const key = serialKey(serialInput);
  const serial = serialFromKey(key);
  const ca = decode<CaBundle>(await deps.storage.get(CA_KEY));
  if (ca && ca.serial === serial) throw badRequest(`adding the issuer (serial ${serial}) to its own CRL is not allowed`);
  const result = await deps.storage.locked(certKey(key), async (s): Promise<RevokeResult & { changed: boolean }> => {
    const stored = decode<StoredCert>(await s.get(certKey(key)));
    if (!stored) {
      if (opts.missingOk) return { revocationTime: 0, warnings: [], changed: false };
      throw badRequest(`certificate with serial ${serial} not found`);
    }
    if (stored.revocationTime !== undefined) return { revocationTime: stored.revocationTime, warnings: [], changed: false };
    const now = deps.clock.now();
    if (Date.parse(stored.notAfter) <= now.getTime()) {
      return { revocationTime: 0, warnings: [`certificate with serial ${serial} has already expired; it was not added to the CRL`], changed: false };
    }
    const revocationTime = unix(now);
    const entry: RevokedEntry = { serial, revocationTime, notAfter: stored.notAfter };
    await s.put(certKey(key), encode({ ...stored, revocationTime }));
    await s.put(revokedKey(key), encode(entry));
    return { revocationTime, warnings: [], changed: true };
  });
  if (result.changed) await rebuildCrlAfterChange(deps, cache);
  return { revocationTime: result.revocationTime, warnings: result.warnings };
}
