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

export const caKeyFields = {
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
