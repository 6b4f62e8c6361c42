/**
 * Issuer rotation (issue 7): `config/issuer-rotation` registers the rotation `<mount>issuer/default` (GET, POST,
 * DELETE), and `issuer/:ref/crl[/pem]` serves the CRL of the issuer `ref` ("default", or "previous" during the
 * overlap window after a rotation, signed by the old key so that it covers the certificates the old issuer signed).
 */
import { z } from 'zod';
import { op, type PathDef, type RotationRegistry } from '../../../core/engine.ts';
import { byRef } from '../params.ts';
import { parseDuration } from '../../../lib/durations.ts';
import { badRequest, notFound } from '../../../lib/errors.ts';
import { currentCrl } from '../crl.ts';
import { durationField, empty, intField } from '../input.ts';
import type { IssuerCache } from '../issuer.ts';
import { keySpec } from '../keys.ts';
import { CA_KEY, encode, loadJson, type CaBundle, type PkiDeps } from '../model.ts';
import { ISSUER_ROTATION_KIND, ISSUER_ROTATION_TARGET, ROTATION_CONFIG_KEY, previousIssuerCrl, type IssuerRotationConfig } from '../rotation.ts';
import { toPem } from '../x509.ts';

const configInput = z.object({
  schedule: z.string().max(200).optional(),
  period: durationField.optional(),
  ttl: durationField,
  key_type: z.string().max(32).optional(),
  key_bits: intField.optional(),
});

export function createIssuerRotationPaths(deps: PkiDeps, cache: IssuerCache, rotations: RotationRegistry): PathDef[] {
  const crlOf = async (ref: string): Promise<Buffer> => {
    let der: Buffer | null;
    if (ref === 'default') der = await currentCrl(deps, cache);
    else if (ref === 'previous') der = await previousIssuerCrl(deps);
    else throw badRequest(`unknown issuer reference "${ref.slice(0, 32)}": use "default" or "previous"`);
    if (!der) throw notFound();
    return der;
  };
  return [
    {
      pattern: 'config/issuer-rotation',
      operations: {
        read: op(empty, async () => {
          const c = await loadJson<IssuerRotationConfig>(deps.storage, ROTATION_CONFIG_KEY);
          if (!c) throw notFound();
          return { data: { schedule: c.schedule, period: c.periodSeconds, ttl: c.ttl, key_type: c.key.type, key_bits: c.key.bits } };
        }),
        update: op(configInput, async ({ input }) => {
          const root = await loadJson<CaBundle>(deps.storage, CA_KEY);
          if (!root) throw badRequest('issuer rotation needs a root: generate one with root/generate/internal');
          const ttl = parseDuration(input.ttl, 'ttl');
          if (ttl < 3600) throw badRequest('ttl: must be at least 1h');
          const periodSeconds = input.period === undefined ? null : parseDuration(input.period, 'period');
          if (input.schedule !== undefined && periodSeconds !== null) throw badRequest('set either schedule or period, not both');
          const key = keySpec(input.key_type ?? root.key.type, input.key_bits ?? (input.key_type === undefined ? root.key.bits : 0), { forCa: true });
          const config: IssuerRotationConfig = { schedule: input.schedule ?? null, periodSeconds, ttl, key };
          await rotations.upsert(ISSUER_ROTATION_KIND, ISSUER_ROTATION_TARGET, {
            ...(config.schedule !== null ? { schedule: config.schedule } : {}),
            ...(periodSeconds !== null ? { periodSeconds } : {}),
          });
          await deps.storage.put(ROTATION_CONFIG_KEY, encode(config));
          return {};
        }),
        delete: op(empty, async () => {
          await rotations.remove(ISSUER_ROTATION_KIND, ISSUER_ROTATION_TARGET);
          await deps.storage.delete([ROTATION_CONFIG_KEY]);
          return {};
        }),
      },
    },
    {
      pattern: 'issuer/:ref/crl/pem',
      unauthenticated: true,
      operations: { read: byRef.op(empty, async ({ params }) => ({ raw: { status: 200, body: toPem(await crlOf(params.ref), 'X509 CRL'), contentType: 'application/x-pem-file' } })) },
    },
    {
      pattern: 'issuer/:ref/crl',
      unauthenticated: true,
      operations: { read: byRef.op(empty, async ({ params }) => ({ raw: { status: 200, body: await crlOf(params.ref), contentType: 'application/pkix-crl' } })) },
    },
  ];
}
