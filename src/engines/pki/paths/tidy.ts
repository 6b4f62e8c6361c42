/**
 * tidy: removes certificates that expired more than safety_buffer ago from the store (tidy_cert_store) and their
 * entries from the CRL (tidy_revoked_certs). Runs to completion before answering (Vault answers 202 and runs it
 * in the background; this API never sends 202), then rebuilds the CRL if it changed.
 */
import { z } from 'zod';
import { op, type PathDef } from '../../../core/engine.ts';
import { badRequest } from '../../../lib/errors.ts';
import { parseDuration } from '../../../lib/durations.ts';
import { rebuildCrlAfterChange } from '../crl.ts';
import { boolField, durationField } from '../input.ts';
import type { IssuerCache } from '../issuer.ts';
import { certKey, decode, revokedKey, type PkiDeps, type RevokedEntry, type StoredCert } from '../model.ts';

/** Vault's tidy operations sealbox has nothing to tidy for (one issuer, no ACME, no legacy bundle): false only. */
const UNSUPPORTED_TIDY = ['tidy_invalid_certs', 'tidy_revoked_cert_issuer_associations', 'tidy_expired_issuers', 'tidy_move_legacy_ca_bundle', 'tidy_acme'] as const;

const tidyInput = z.object({
  tidy_cert_store: boolField.optional(),
  tidy_revoked_certs: boolField.optional(),
  // Vault's older name for tidy_revoked_certs.
  tidy_revocation_list: boolField.optional(),
  ...Object.fromEntries(UNSUPPORTED_TIDY.map((k) => [k, boolField.optional()])) as Record<(typeof UNSUPPORTED_TIDY)[number], z.ZodOptional<typeof boolField>>,
  safety_buffer: durationField.optional(),
  // Taken and checked; sealbox tidies without pausing and has no issuers or ACME accounts to tidy.
  pause_duration: durationField.optional(),
  issuer_safety_buffer: durationField.optional(),
  acme_account_safety_buffer: durationField.optional(),
});

const BATCH = 500;

/** Deletes the entries under prefix whose notAfter is before `cutoff`; returns how many. */
async function sweep(deps: PkiDeps, prefix: string, keyOf: (s: string) => string, cutoff: number): Promise<number> {
  const names = (await deps.storage.list(prefix)).filter((k) => !k.endsWith('/'));
  let deleted = 0;
  for (let i = 0; i < names.length; i += BATCH) {
    const keys = names.slice(i, i + BATCH).map(keyOf);
    const found = await deps.storage.getMany(keys);
    const expired = keys.filter((k) => {
      const entry = decode<StoredCert | RevokedEntry>(found.get(k));
      return entry !== null && Date.parse(entry.notAfter) < cutoff;
    });
    if (expired.length > 0) await deps.storage.delete(expired);
    deleted += expired.length;
  }
  return deleted;
}

export function createTidyPaths(deps: PkiDeps, cache: IssuerCache): PathDef[] {
  return [
    {
      pattern: 'tidy',
      operations: {
        update: op(tidyInput, async ({ input }) => {
          for (const k of UNSUPPORTED_TIDY) if (input[k] === true) throw badRequest(`${k}: this tidy operation is not supported (sealbox has one issuer per mount and no ACME): send false`);
          for (const k of ['pause_duration', 'issuer_safety_buffer', 'acme_account_safety_buffer'] as const) {
            const v = input[k];
            if (v !== undefined) parseDuration(v, k);
          }
          const certStore = input.tidy_cert_store ?? false;
          const revoked = input.tidy_revoked_certs ?? input.tidy_revocation_list ?? false;
          if (!certStore && !revoked) throw badRequest('no tidy operation enabled: set tidy_cert_store and/or tidy_revoked_certs to true');
          const buffer = input.safety_buffer === undefined ? 72 * 3600 : parseDuration(input.safety_buffer, 'safety_buffer');
          if (buffer <= 0) throw badRequest('safety_buffer must be greater than zero');
          const cutoff = deps.clock.now().getTime() - buffer * 1000;
          const certCount = certStore ? await sweep(deps, 'certs/', certKey, cutoff) : 0;
          const revokedCount = revoked ? await sweep(deps, 'revoked/', revokedKey, cutoff) : 0;
          if (revokedCount > 0) await rebuildCrlAfterChange(deps, cache);
          return { data: { cert_store_deleted_count: certCount, revoked_cert_deleted_count: revokedCount, safety_buffer: buffer } };
        }),
      },
    },
  ];
}
