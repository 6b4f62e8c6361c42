/**
 * A short-lived self-signed serving certificate (EC P-256), for the time between the broker's start and the first
 * certificate from its own PKI mount (see pki-tls.ts): the mount can only issue once it exists and the broker is unsealed.
 */
import 'reflect-metadata';
import { webcrypto } from 'node:crypto';
import { isIP } from 'node:net';
import * as x509 from '@peculiar/x509';
import type { Clock } from '../lib/clock.ts';
import type { Random } from '../lib/random.ts';
import type { ServingCertificate } from './listener.ts';

export interface SelfSignedRequest {
  commonName: string;
  /** DNS names; the common name is added when it is not an IP address. */
  dnsNames: readonly string[];
  ips: readonly string[];
  ttlSeconds: number;
}

export interface SelfSigned extends ServingCertificate {
  cert: string;
  key: string;
  notAfter: Date;
}

const crypto = webcrypto as unknown as Parameters<typeof x509.X509CertificateGenerator.createSelfSigned>[1];

function pem(der: ArrayBuffer, label: string): string {
  const b64 = Buffer.from(der).toString('base64');
  return `-----BEGIN ${label}-----\n${b64.replace(/.{64}/g, '$&\n').replace(/\n$/, '')}\n-----END ${label}-----\n`;
}

/** The name of a certificate subject attribute value, escaped for @peculiar/x509's RFC 4514 parser. */
const rdnValue = (s: string): string => s.replace(/([,+"\\<>;=#])/g, '\\$1');

export async function selfSignedCertificate(req: SelfSignedRequest, deps: { clock: Clock; random: Random }): Promise<SelfSigned> {
  const keys = await webcrypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, true, ['sign', 'verify']);
  const now = deps.clock.now();
  const notBefore = new Date(now.getTime() - 60_000);
  const notAfter = new Date(now.getTime() + req.ttlSeconds * 1000);
  const dns = [...new Set([...(isIP(req.commonName) === 0 ? [req.commonName] : []), ...req.dnsNames])];
  const ips = [...new Set([...(isIP(req.commonName) !== 0 ? [req.commonName] : []), ...req.ips])];
  const serial = Buffer.from(deps.random.bytes(16));
  serial[0] = (serial[0] ?? 0) & 0x7f;
  const cert = await x509.X509CertificateGenerator.createSelfSigned(
    {
      serialNumber: serial.toString('hex'),
      name: `CN=${rdnValue(req.commonName)}, O=sealbox bootstrap (self-signed)`,
      notBefore,
      notAfter,
      keys: keys as unknown as Parameters<typeof x509.X509CertificateGenerator.createSelfSigned>[0]['keys'],
      signingAlgorithm: { name: 'ECDSA', hash: 'SHA-256' },
      extensions: [
        new x509.BasicConstraintsExtension(false, undefined, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
        new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth], false),
        new x509.SubjectAlternativeNameExtension([...dns.map((value) => ({ type: 'dns' as const, value })), ...ips.map((value) => ({ type: 'ip' as const, value }))]),
      ],
    },
    crypto,
  );
  const key = pem(await webcrypto.subtle.exportKey('pkcs8', keys.privateKey), 'PRIVATE KEY');
  return { cert: cert.toString('pem'), key, notAfter };
}
