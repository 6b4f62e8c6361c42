/** The inputs shared by the CA endpoints (root/generate, intermediate/generate, root/sign-intermediate). */
import { z } from 'zod';
import { badRequest } from '../../lib/errors.ts';
import { parseDuration } from '../../lib/durations.ts';
import type { SanSet } from './certificate.ts';
import { boolField, durationField, formatField, intField, privateKeyFormatField, stringList, subjectFields } from './input.ts';
import { checkSanSyntax, sanNames } from './names.ts';
import type { Subject } from './role.ts';
import { subjectName } from './subject.ts';

export const caNameFields = {
  common_name: z.string().max(256).optional(),
  alt_names: stringList.optional(),
  ip_sans: stringList.optional(),
  uri_sans: stringList.optional(),
  exclude_cn_from_sans: boolField.optional(),
  format: formatField.optional(),
  ...subjectFields,
};

/** Vault's signature fields (CA key generation, root/sign-intermediate, sign-verbatim, roles). */
export const signatureFields = {
  signature_bits: intField.optional(),
  use_pss: boolField.optional(),
};

/**
 * Vault's ValidateSignatureLength for the key that signs: for EC and Ed25519 (and a role's "any") Vault ignores
 * signature_bits and use_pss, so does sealbox. For RSA Vault takes 256, 384 and 512 (0: the default, 256); sealbox
 * signs RSA with SHA-256 PKCS #1 v1.5 only, so 384, 512 and PSS are refused rather than silently not applied.
 */
export function checkSignature(input: { signature_bits?: number | undefined; use_pss?: boolean | undefined }, keyType: string): void {
  if (keyType !== 'rsa') return;
  const bits = input.signature_bits ?? 0;
  if (bits === 384 || bits === 512) throw badRequest(`signature_bits: SHA-${bits} RSA signatures are not supported (sealbox signs with SHA-256): send 0 or 256`);
  if (bits !== 0 && bits !== 256) throw badRequest(`signature_bits: unsupported hash signature algorithm: ${bits}`);
  if (input.use_pss === true) throw badRequest('use_pss: PSS signatures are not supported (sealbox signs RSA with PKCS #1 v1.5): send false');
}

export const caKeyFields = {
  ...signatureFields,
  key_type: z.string().max(32).optional(),
  key_bits: intField.optional(),
  private_key_format: privateKeyFormatField.optional(),
};

export const caValidityFields = {
  ttl: durationField.optional(),
  max_path_length: intField.optional(),
  not_before_duration: durationField.optional(),
};


interface NameInput {
  common_name?: string | undefined;
  alt_names?: string[] | undefined;
  ip_sans?: string[] | undefined;
  uri_sans?: string[] | undefined;
  exclude_cn_from_sans?: boolean | undefined;
  ou?: string[] | undefined;
  organization?: string[] | undefined;
  country?: string[] | undefined;
  locality?: string[] | undefined;
  province?: string[] | undefined;
  street_address?: string[] | undefined;
  postal_code?: string[] | undefined;
}

export function requireCommonName(input: { common_name?: string | undefined }): string {
  const cn = input.common_name?.trim() ?? '';
  if (cn === '') throw badRequest('the common_name field is required');
  return cn;
}

export function caSubject(input: NameInput, commonName: string): Record<string, string[]>[] {
  const s: Partial<Subject> = {
    ou: input.ou,
    organization: input.organization,
    country: input.country,
    locality: input.locality,
    province: input.province,
    streetAddress: input.street_address,
    postalCode: input.postal_code,
  };
  return subjectName(commonName, s);
}

/** A CA's SANs: only what was asked for (alt names, IPs, URIs), plus the CN when it looks like a host name; 400 for one a certificate cannot hold. */
export function caSans(input: NameInput, commonName: string): SanSet {
  const hostLike = /^[A-Za-z0-9*][A-Za-z0-9.-]*$/.test(commonName) && commonName.includes('.');
  const { dns, emails } = sanNames({
    commonName: hostLike ? commonName : '',
    altNames: input.alt_names ?? [],
    ipSans: [],
    uriSans: [],
    excludeCnFromSans: input.exclude_cn_from_sans ?? false,
  });
  const sans: SanSet = { dns, emails, ips: input.ip_sans ?? [], uris: input.uri_sans ?? [] };
  checkSanSyntax(sans);
  return sans;
}

/** A CA's lifetime: the requested ttl, else Vault's default, the mount's max lease TTL (`maxTtl`, from the TTL service). */
export function caTtl(input: { ttl?: string | number | undefined }, maxTtl: number): number {
  const ttl = input.ttl === undefined ? maxTtl : parseDuration(input.ttl, 'ttl');
  if (ttl <= 0) throw badRequest('ttl: must be positive');
  return ttl;
}

export function notBefore(now: Date, input: { not_before_duration?: string | number | undefined }): Date {
  const back = input.not_before_duration === undefined ? 30 : parseDuration(input.not_before_duration, 'not_before_duration');
  return new Date(now.getTime() - back * 1000);
}
