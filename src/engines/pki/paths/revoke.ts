/**
 * revoke {serial_number}: adds the certificate to the CRL and answers with its revocation time.
 * revoke-with-key {serial_number | certificate, private_key}: the same, for a caller who proves it holds the
 * certificate's private key (Vault's pathRevokeWithKey: Terraform's destroy of a certificate resource uses it).
 */
import { createPrivateKey, createPublicKey } from 'node:crypto';
import { z } from 'zod';
import { op, type EngineResponse, type PathDef } from '../../../core/engine.ts';
import { badRequest } from '../../../lib/errors.ts';
import type { IssuerCache } from '../issuer.ts';
import { certKey, decode, type PkiDeps, type StoredCert } from '../model.ts';
import { revokeSerial } from '../revocation.ts';
import { serialColons, serialKey } from '../serial.ts';
import { pemBlocks, x509 } from '../x509.ts';

const revokeInput = z.object({ serial_number: z.string().max(200).optional(), certificate: z.string().max(64 * 1024).optional() });
const withKeyInput = z.object({
  serial_number: z.string().max(200).optional(),
  certificate: z.string().max(64 * 1024).optional(),
  private_key: z.string({ error: 'private_key: required' }).max(64 * 1024),
});

function revokedResponse(r: { revocationTime: number; warnings: string[] }): EngineResponse {
  const data: Record<string, unknown> = {
    revocation_time: r.revocationTime,
    ...(r.revocationTime > 0 ? { revocation_time_rfc3339: new Date(r.revocationTime * 1000).toISOString().replace('.000Z', 'Z'), state: 'revoked' } : {}),
  };
  return { data, ...(r.warnings.length > 0 ? { warnings: r.warnings } : {}) };
}

const spkiOf = (cert: x509.X509Certificate): Buffer => Buffer.from(cert.publicKey.rawData);

function parseCert(pem: string, field: string): x509.X509Certificate {
  const der = pemBlocks(pem, 'CERTIFICATE');
  if (der.length !== 1) throw badRequest(`${field}: expected exactly one PEM certificate`);
  try {
    return new x509.X509Certificate(der[0] ?? Buffer.alloc(0));
  } catch {
    throw badRequest(`${field}: not a valid certificate`);
  }
}

/** The public half of a PEM private key (PKCS #8, PKCS #1 or SEC 1), as SPKI DER; 400 when it does not parse. */
function publicOfPrivate(pem: string): Buffer {
  try {
    return createPublicKey(createPrivateKey({ key: pem, format: 'pem' })).export({ type: 'spki', format: 'der' });
  } catch {
    throw badRequest('failed to parse provided private key');
  }
}

/** Vault's revoke: serial_number or certificate (a certificate this mount issued), exactly one of them. */
async function revoke(deps: PkiDeps, cache: IssuerCache, input: z.output<typeof revokeInput>): Promise<EngineResponse> {
  const hasSerial = (input.serial_number ?? '') !== '';
  const hasCert = (input.certificate ?? '') !== '';
  if (hasSerial === hasCert) throw badRequest('must provide either the certificate or the serial_number, but not both');
  if (!hasCert) return revokedResponse(await revokeSerial(deps, cache, input.serial_number ?? ''));
  const given = parseCert(input.certificate ?? '', 'certificate');
  const serial = serialColons(given.serialNumber);
  const stored = decode<StoredCert>(await deps.storage.get(certKey(serialKey(serial))));
  if (!stored || !Buffer.from(parseCert(stored.certificate, 'stored certificate').rawData).equals(Buffer.from(given.rawData))) {
    throw badRequest('certificate: not a certificate this mount issued and stored');
  }
  return revokedResponse(await revokeSerial(deps, cache, serial));
}

async function revokeWithKey(deps: PkiDeps, cache: IssuerCache, input: z.output<typeof withKeyInput>): Promise<EngineResponse> {
  const hasSerial = (input.serial_number ?? '') !== '';
  const hasCert = (input.certificate ?? '') !== '';
  if (hasSerial === hasCert) throw badRequest('must provide either the certificate or the serial_number, but not both');
  const given = hasCert ? parseCert(input.certificate ?? '', 'certificate') : null;
  const serial = given ? serialColons(given.serialNumber) : (input.serial_number ?? '');
  const stored = decode<StoredCert>(await deps.storage.get(certKey(serialKey(serial))));
  if (!stored) throw badRequest(`certificate with serial ${serial.slice(0, 80)} not found`);
  const cert = parseCert(stored.certificate, 'stored certificate');
  if (given && !Buffer.from(given.rawData).equals(Buffer.from(cert.rawData))) {
    throw badRequest('certificate does not match the stored certificate of this serial number');
  }
  if (!publicOfPrivate(input.private_key).equals(spkiOf(cert))) throw badRequest('failed to validate private key match: the key does not belong to this certificate');
  return revokedResponse(await revokeSerial(deps, cache, serial));
}

export function createRevokePaths(deps: PkiDeps, cache: IssuerCache): PathDef[] {
  return [
    {
      pattern: 'revoke',
      operations: { update: op(revokeInput, async ({ input }) => revoke(deps, cache, input)) },
    },
    { pattern: 'revoke-with-key', operations: { update: op(withKeyInput, async ({ input }) => revokeWithKey(deps, cache, input)) } },
  ];
}
