/** config/urls (AIA issuing certificates, CRL distribution points, OCSP servers) and config/crl (expiry, refresh point). */
import { z } from 'zod';
import { op, type PathDef } from '../../../core/engine.ts';
import { badRequest } from '../../../lib/errors.ts';
import { formatDuration, parseDuration } from '../../../lib/durations.ts';
import { durationField, empty, stringList } from '../input.ts';
import { CRL_CONFIG_KEY, DEFAULT_CRL_CONFIG, DEFAULT_URLS, URLS_KEY, decode, encode, type CrlConfig, type PkiDeps, type UrlsConfig } from '../model.ts';

const urlsInput = z.object({
  issuing_certificates: stringList.optional(),
  crl_distribution_points: stringList.optional(),
  ocsp_servers: stringList.optional(),
});

const crlInput = z.object({ expiry: durationField.optional(), auto_rebuild_grace_period: durationField.optional() });

function checkUrls(list: string[]): string[] {
  for (const u of list) {
    let ok = false;
    try {
      ok = ['http:', 'https:', 'ldap:'].includes(new URL(u).protocol);
    } catch {
      ok = false;
    }
    if (!ok) throw badRequest(`invalid URL found: ${u.slice(0, 200)}`);
  }
  return list;
}

const urlsWire = (c: UrlsConfig): Record<string, unknown> => ({
  issuing_certificates: c.issuingCertificates,
  crl_distribution_points: c.crlDistributionPoints,
  ocsp_servers: c.ocspServers,
});

const crlWire = (c: CrlConfig): Record<string, unknown> => ({
  expiry: formatDuration(c.expiry),
  auto_rebuild_grace_period: formatDuration(c.autoRebuildGracePeriod),
  disable: false,
});

export function createConfigPaths(deps: PkiDeps): PathDef[] {
  return [
    {
      pattern: 'config/urls',
      operations: {
        read: op(empty, async () => ({ data: urlsWire(decode<UrlsConfig>(await deps.storage.get(URLS_KEY)) ?? DEFAULT_URLS) })),
        update: op(urlsInput, async ({ input }) => {
          await deps.storage.locked(URLS_KEY, async (s) => {
            const cur = decode<UrlsConfig>(await s.get(URLS_KEY)) ?? DEFAULT_URLS;
            const next: UrlsConfig = {
              issuingCertificates: checkUrls(input.issuing_certificates ?? cur.issuingCertificates),
              crlDistributionPoints: checkUrls(input.crl_distribution_points ?? cur.crlDistributionPoints),
              ocspServers: checkUrls(input.ocsp_servers ?? cur.ocspServers),
            };
            await s.put(URLS_KEY, encode(next));
          });
          return {};
        }),
      },
    },
    {
      pattern: 'config/crl',
      operations: {
        read: op(empty, async () => ({ data: crlWire(decode<CrlConfig>(await deps.storage.get(CRL_CONFIG_KEY)) ?? DEFAULT_CRL_CONFIG) })),
        update: op(crlInput, async ({ input }) => {
          await deps.storage.locked(CRL_CONFIG_KEY, async (s) => {
            const cur = decode<CrlConfig>(await s.get(CRL_CONFIG_KEY)) ?? DEFAULT_CRL_CONFIG;
            const next: CrlConfig = {
              expiry: input.expiry === undefined ? cur.expiry : parseDuration(input.expiry, 'expiry'),
              autoRebuildGracePeriod:
                input.auto_rebuild_grace_period === undefined ? cur.autoRebuildGracePeriod : parseDuration(input.auto_rebuild_grace_period, 'auto_rebuild_grace_period'),
            };
            if (next.expiry <= 0) throw badRequest('expiry: must be positive');
            if (next.autoRebuildGracePeriod >= next.expiry) {
              throw badRequest(
                `CRL auto-rebuilding grace period (${formatDuration(next.autoRebuildGracePeriod)}) must be strictly shorter than CRL expiry (${formatDuration(next.expiry)})`,
              );
            }
            await s.put(CRL_CONFIG_KEY, encode(next));
          });
          return {};
        }),
      },
    },
  ];
}
