/** The `cert` secret type: revoking a leased certificate's lease revokes the certificate. */
import type { SecretType } from '../../core/engine.ts';
import type { IssuerCache } from './issuer.ts';
import type { PkiDeps } from './model.ts';
import { revokeSerial } from './revocation.ts';

export function createCertSecret(deps: PkiDeps, cache: IssuerCache): SecretType {
  return {
    // Certificates cannot be extended: the lease is not renewable, so there is nothing to renew.
    async revoke(lease) {
      const serial = lease.internal.serial_number;
      if (typeof serial !== 'string' || serial === '') return;
      // Idempotent: an unknown (tidied), expired or already revoked certificate is simply done.
      await revokeSerial(deps, cache, serial, { missingOk: true });
    },
  };
}
