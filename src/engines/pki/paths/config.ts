/** config/urls (AIA issuing certificates, CRL distribution points, OCSP servers) and config/crl (expiry, refresh point). */
import { z } from 'zod';
import { op, type PathDef } from '../../../core/engine.ts';
import { badRequest } from '../../../lib/errors.ts';
import { formatDuration, parseDuration } from '../../../lib/durations.ts';
import { boolField, durationField, empty, intField, stringList } from '../input.ts';
import { CRL_CONFIG_KEY, DEFAULT_CRL_CONFIG, DEFAULT_URLS, URLS_KEY, decode, encode, type CrlConfig, type PkiDeps, type UrlsConfig } from '../model.ts';

const urlsInput = z.object({
  issuing_certificates: stringList.optional(),
  crl_distribution_points: stringList.optional(),
  ocsp_servers: stringList.optional(),
  enable_templating: boolField.optional(),
});

const crlInput = z.object({
  expiry: durationField.optional(),
  auto_rebuild_grace_period: durationField.optional(),
  disable: boolField.optional(),
  ocsp_disable: boolField.optional(),
  ocsp_expiry: durationField.optional(),
  auto_rebuild: boolField.optional(),
  enable_delta: boolField.optional(),
  delta_rebuild_interval: durationField.optional(),
  cross_cluster_revocation: boolField.optional(),
  unified_crl: boolField.optional(),
  unified_crl_on_existing_paths: boolField.optional(),
  max_crl_entries: intField.optional(),
});

/** Vault's defaults for the fields sealbox only stores (config/crl read before any write). */
const CRL_ECHO_DEFAULTS: Record<string, string | boolean | number> = {
  ocsp_disable: false,
  ocsp_expiry: '12h',
  auto_rebuild: false,
  enable_delta: false,
  delta_rebuild_interval: '15m',
  cross_cluster_revocation: false,
  unified_crl: false,
  unified_crl_on_existing_paths: false,
  max_crl_entries: 100000,
};
const ECHO_DURATIONS = ['ocsp_expiry', 'delta_rebuild_interval'] as const;
const ECHO_FLAGS = ['ocsp_disable', 'auto_rebuild', 'enable_delta', 'cross_cluster_revocation', 'unified_crl', 'unified_crl_on_existing_paths'] as const;

export function checkUrls(list: string[], field?: string): string[] {
  for (const u of list) {
    let ok = false;
    try {
      ok = ['http:', 'https:', 'ldap:'].includes(new URL(u).protocol);
    } catch {
      ok = false;
    }
    if (!ok) throw badRequest(field ? `invalid URL found in Authority Information Access (AIA) parameter ${field}: ${u.slice(0, 200)}` : `invalid URL found: ${u.slice(0, 200)}`);
  }
  return list;
}

const urlsWire = (c: UrlsConfig): Record<string, unknown> => ({
  issuing_certificates: c.issuingCertificates,
  crl_distribution_points: c.crlDistributionPoints,
  ocsp_servers: c.ocspServers,
  enable_templating: c.enableTemplating ?? false,
});

const crlWire = (c: CrlConfig): Record<string, unknown> => ({
  ...CRL_ECHO_DEFAULTS,
  ...c.echo,
  expiry: typeof c.echo?.expiry === 'string' ? c.echo.expiry : formatDuration(c.expiry),
  auto_rebuild_grace_period: typeof c.echo?.auto_rebuild_grace_period === 'string' ? c.echo.auto_rebuild_grace_period : formatDuration(c.autoRebuildGracePeriod),
  disable: c.disable ?? false,
});

/** The written form of a duration, kept for reading back: "72h" stays "72h"; a number of seconds stays a number. */
const asWritten = (v: string | number): string => (typeof v === 'number' ? String(v) : v.trim());

function crlEcho(cur: CrlConfig['echo'], input: z.output<typeof crlInput>): Record<string, string | boolean | number> {
  // Stored and read back, but these would ask for CRLs sealbox does not make: refused rather than ignored.
  if (input.enable_delta === true) throw badRequest('enable_delta: delta CRLs are not supported (sealbox builds full CRLs only): send false');
  for (const k of ['unified_crl', 'unified_crl_on_existing_paths', 'cross_cluster_revocation'] as const) {
    if (input[k] === true) throw badRequest(`${k}: cross-cluster (unified) revocation is not supported: send false`);
  }
  const echo: Record<string, string | boolean | number> = { ...cur };
  if (input.expiry !== undefined) echo.expiry = asWritten(input.expiry);
  if (input.auto_rebuild_grace_period !== undefined) echo.auto_rebuild_grace_period = asWritten(input.auto_rebuild_grace_period);
  for (const k of ECHO_DURATIONS) {
    const v = input[k];
    if (v !== undefined) {
      parseDuration(v, k);
      echo[k] = asWritten(v);
    }
  }
  for (const k of ECHO_FLAGS) {
    const v = input[k];
    if (v !== undefined) echo[k] = v;
  }
  if (input.max_crl_entries !== undefined) echo.max_crl_entries = input.max_crl_entries;
  return echo;
}

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
              enableTemplating: input.enable_templating ?? cur.enableTemplating ?? false,
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
              disable: input.disable ?? cur.disable ?? false,
              echo: crlEcho(cur.echo, input),
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
