/**
 * The public fetch endpoints (no token needed, as in Vault): ca/pem, ca (DER), ca_chain, crl/pem (label
 * "X509 CRL"), crl (DER), and their JSON forms cert/ca, cert/ca_chain, cert/crl; plus cert/:serial and LIST certs.
 * cert/ca_chain also says `version`: the issuer generation that consumers acknowledge (issue 20).
 */
import { op, type EngineResponse, type PathDef } from '../../../core/engine.ts';
import { bySerial } from '../params.ts';
import { notFound } from '../../../lib/errors.ts';
import { currentCrl, rebuildCrl } from '../crl.ts';
import { empty } from '../input.ts';
import type { IssuerCache } from '../issuer.ts';
import { CA_KEY, certKey, decode, type CaBundle, type PkiDeps, type StoredCert } from '../model.ts';
import { serialFromKey, serialKey } from '../serial.ts';
import { pemBlocks, toPem } from '../x509.ts';
import { generationOf } from '../issuer-retire.ts';

const PEM_CHAIN = 'application/pem-certificate-chain';
const raw = (body: string | Buffer, contentType: string): EngineResponse => ({ raw: { status: 200, body, contentType } });

async function chainPems(deps: PkiDeps): Promise<string[]> {
  const bundle = decode<CaBundle>(await deps.storage.get(CA_KEY));
  if (!bundle) throw notFound();
  return [bundle.certificate, ...bundle.parents].map((p) => `${p.trim()}\n`);
}

/**
 * ca_chain's order: the CA and its parents, except after an issuer rotation (the cross-signed copy first; see
 * CaBundle); with the issuer generation, the version consumers acknowledge (issuer-retire.ts).
 */
async function caChainOf(deps: PkiDeps): Promise<{ pems: string[]; version: number }> {
  const bundle = decode<CaBundle>(await deps.storage.get(CA_KEY));
  if (!bundle) throw notFound();
  const pems = bundle.crossSigned ? [...bundle.parents, bundle.certificate] : [bundle.certificate, ...bundle.parents];
  return { pems: pems.map((p) => `${p.trim()}\n`), version: generationOf(bundle) };
}
const caChain = async (deps: PkiDeps): Promise<string[]> => (await caChainOf(deps)).pems;

async function crlDer(deps: PkiDeps, cache: IssuerCache): Promise<Buffer> {
  const der = await currentCrl(deps, cache);
  if (!der) throw notFound();
  return der;
}

async function readCert(deps: PkiDeps, serialInput: string): Promise<EngineResponse> {
  const key = serialKey(serialInput);
  const stored = decode<StoredCert>(await deps.storage.get(certKey(key)));
  if (!stored) throw notFound();
  const t = stored.revocationTime ?? 0;
  return {
    data: {
      certificate: stored.certificate.trim(),
      serial_number: serialFromKey(key),
      revocation_time: t,
      ...(t > 0 ? { revocation_time_rfc3339: new Date(t * 1000).toISOString().replace('.000Z', 'Z') } : {}),
    },
  };
}

const get = (fn: () => Promise<EngineResponse>): PathDef['operations'] => ({ read: op(empty, fn) });

export function createFetchPaths(deps: PkiDeps, cache: IssuerCache): PathDef[] {
  const pub = (pattern: string, operations: PathDef['operations'], overrides?: string[]): PathDef => ({ pattern, operations, unauthenticated: true, ...(overrides ? { overrides } : {}) });
  // "ca", "ca_chain" and "crl" are no serial numbers: these take those paths from cert/:serial.
  const serials = ['cert/:serial'];
  return [
    pub('ca/pem', get(async () => raw((await chainPems(deps))[0] ?? '', PEM_CHAIN))),
    pub('ca', get(async () => raw(pemBlocks((await chainPems(deps))[0] ?? '', 'CERTIFICATE')[0] ?? Buffer.alloc(0), 'application/pkix-cert'))),
    pub('ca_chain', get(async () => raw((await caChain(deps)).join(''), PEM_CHAIN))),
    pub('crl/pem', get(async () => raw(toPem(await crlDer(deps, cache), 'X509 CRL'), 'application/x-pem-file'))),
    pub('crl', get(async () => raw(await crlDer(deps, cache), 'application/pkix-crl'))),
    pub('cert/ca', get(async () => ({ data: { certificate: ((await chainPems(deps))[0] ?? '').trim() } })), serials),
    pub(
      'cert/ca_chain',
      get(async () => {
        const { pems, version } = await caChainOf(deps);
        const chain = pems.join('').trim();
        return { data: { certificate: chain, ca_chain: chain, version } };
      }),
      serials,
    ),
    pub('cert/crl', get(async () => ({ data: { certificate: toPem(await crlDer(deps, cache), 'X509 CRL').trim() } })), serials),
    pub('cert/:serial', { read: bySerial.op(empty, async ({ params }) => readCert(deps, params.serial)) }),
    {
      pattern: 'certs',
      operations: {
        list: op(empty, async () => {
          const keys = (await deps.storage.list('certs/')).filter((k) => !k.endsWith('/')).map(serialFromKey);
          if (keys.length === 0) throw notFound();
          return { data: { keys } };
        }),
      },
    },
    {
      pattern: 'crl/rotate',
      operations: {
        read: op(empty, async () => {
          if (!(await rebuildCrl(deps, cache))) throw notFound();
          return { data: { success: true } };
        }),
      },
    },
  ];
}
