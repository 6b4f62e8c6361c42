/**
 * login: the TLS client certificate from the handshake proves the identity. The certificate must chain to an entry's
 * trusted certificate and match that entry's name constraints; the first matching entry (by name) wins, as in Vault.
 */
import { X509Certificate } from 'node:crypto';
import { z } from 'zod';
import { op, type EngineRequest, type EngineResponse, type LoginResult, type PathDef } from '../../../core/engine.ts';
import { loginFailed } from '../../../lib/errors.ts';
import type { Logger } from '../../../lib/log.ts';
import { certNames, type CertNames } from '../cert-names.ts';
import { anyMatch } from '../../../lib/glob.ts';
import { decode, entryKey, loadEntry, isName, parsePemCertificates, type CertDeps, type CertEntry } from '../model.ts';
import { chainsToAnchor } from '../verify.ts';

const loginInput = z.object({ name: z.string().max(128).optional() });

function matchesConstraints(e: CertEntry, n: CertNames): boolean {
  return (
    anyMatch(e.allowedNames, [n.commonName, ...n.dnsSans, ...n.emailSans]) &&
    anyMatch(e.allowedCommonNames, [n.commonName]) &&
    anyMatch(e.allowedDnsSans, n.dnsSans) &&
    anyMatch(e.allowedEmailSans, n.emailSans) &&
    anyMatch(e.allowedUriSans, n.uriSans) &&
    anyMatch(e.allowedOrganizationalUnits, n.organizationalUnits)
  );
}

function trusts(e: CertEntry, leaf: X509Certificate, intermediates: readonly X509Certificate[], now: Date): boolean {
  try {
    return chainsToAnchor(leaf, intermediates, parsePemCertificates(e.certificate), now);
  } catch {
    return false;
  }
}

/** Vault prints certificate serial numbers in login metadata as decimal integers. */
const decimalSerial = (hex: string): string => BigInt(`0x${hex}`).toString(10);

function loginResult(e: CertEntry, leaf: X509Certificate, n: CertNames): LoginResult {
  const serial = decimalSerial(leaf.serialNumber);
  const metadata: Record<string, string> = {
    cert_name: e.name,
    common_name: n.commonName,
    serial_number: serial,
    subject_key_id: n.subjectKeyId,
    authority_key_id: n.authorityKeyId,
  };
  return {
    policies: [...e.tokenPolicies],
    displayName: `cert-${e.displayName || e.name}`,
    alias: { name: n.commonName || serial, metadata },
    ttl: e.tokenTtl,
    maxTtl: hardCap(e),
    ...(e.tokenPeriod > 0 ? { period: e.tokenPeriod } : {}),
    ...(e.tokenNumUses > 0 ? { numUses: e.tokenNumUses } : {}),
    ...(e.tokenNoDefaultPolicy ? { noDefaultPolicy: true } : {}),
  };
}

/** The smaller of token_max_ttl and token_explicit_max_ttl, whichever are set (Vault's tokenutil); 0 for none. */
function hardCap(e: CertEntry): number {
  const caps = [e.tokenMaxTtl, e.tokenExplicitMaxTtl ?? 0].filter((n) => n > 0);
  return caps.length > 0 ? Math.min(...caps) : 0;
}

async function candidates(deps: CertDeps, name: string | undefined): Promise<CertEntry[]> {
  if (name !== undefined && name !== '') {
    if (!isName(name)) return [];
    const one = await loadEntry(deps.storage, name);
    return one ? [one] : [];
  }
  const names = (await deps.storage.list('cert/')).filter((k) => !k.endsWith('/')).sort();
  const raw = await deps.storage.getMany(names.map(entryKey));
  return names.flatMap((n) => {
    const v = raw.get(entryKey(n));
    return v ? [decode(v, n)] : [];
  });
}

async function login(deps: CertDeps & { log: Logger }, req: EngineRequest<z.output<typeof loginInput>>): Promise<EngineResponse> {
  const chain = req.peerCertificates ?? [];
  const [leafDer, ...rest] = chain;
  if (!leafDer) {
    deps.log.info({ reason: 'no client certificate' }, 'cert login refused');
    throw loginFailed();
  }
  let leaf: X509Certificate;
  let intermediates: X509Certificate[];
  let names: CertNames;
  try {
    leaf = new X509Certificate(leafDer);
    intermediates = rest.map((d) => new X509Certificate(d));
    names = certNames(leafDer);
  } catch {
    throw loginFailed();
  }
  const now = deps.clock.now();
  for (const entry of await candidates(deps, req.input.name)) {
    if (trusts(entry, leaf, intermediates, now) && matchesConstraints(entry, names)) return { login: loginResult(entry, leaf, names) };
  }
  deps.log.info({ reason: 'no trusted certificate entry matches', serial_number: leaf.serialNumber }, 'cert login refused');
  throw loginFailed();
}

export function createLoginPaths(deps: CertDeps & { log: Logger }): PathDef[] {
  return [
    {
      pattern: 'login',
      unauthenticated: true,
      operations: { update: op(loginInput, async (req) => login(deps, req)) },
    },
  ];
}
