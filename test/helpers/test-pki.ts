// Throwaway X.509 material for TLS tests, made with the `openssl` CLI in a temp dir (removed at exit).
//
//   const pki = await createTestPki();
//   const ca = pki.ca('ca');                                   // ca.pem, ca.key
//   const c = pki.issue('client', { ca: 'ca', subject: '/CN=web', ext: ['extendedKeyUsage=clientAuth'] });
//   https.request({ ca: pki.read('ca.pem'), cert: c.cert, key: c.key, … })
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { onExitSync } from './exit.ts';

export interface Issued {
  certFile: string;
  keyFile: string;
  cert: string;
  key: string;
}

export interface IssueOptions {
  /** Name of the issuing CA made with `ca()` or `issue({ isCa: true })`. */
  ca: string;
  /** openssl -subj form, e.g. "/O=Acme/CN=web". */
  subject: string;
  /** Extension lines (openssl v3 config syntax), e.g. "subjectAltName=DNS:localhost,IP:127.0.0.1". */
  ext?: string[];
  days?: number;
  /** YYYYMMDDHHMMSSZ: an explicit validity window (for expired and not-yet-valid certificates). */
  startDate?: string;
  endDate?: string;
}

export interface TestPki {
  dir: string;
  file(name: string): string;
  read(name: string): string;
  /** A self-signed CA (`<name>.pem`, `<name>.key`). */
  ca(name: string, subject?: string): Issued;
  /** A certificate signed by `opts.ca`; it becomes a CA itself when ext contains basicConstraints CA:TRUE. */
  issue(name: string, opts: IssueOptions): Issued;
  /** A self-signed leaf certificate. */
  selfSigned(name: string, subject: string, ext?: string[]): Issued;
}

function openssl(cwd: string, args: string[]): void {
  execFileSync('openssl', args, { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
}

export function createTestPki(): TestPki {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sealbox-pki-'));
  onExitSync(() => fs.rmSync(dir, { recursive: true, force: true }));
  const file = (name: string): string => path.join(dir, name);
  const read = (name: string): string => fs.readFileSync(file(name), 'utf8');
  const issued = (name: string): Issued => ({
    certFile: file(`${name}.pem`),
    keyFile: file(`${name}.key`),
    cert: read(`${name}.pem`),
    key: read(`${name}.key`),
  });
  const ecKey = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];

  const caDb = (name: string): void => {
    const db = file(`${name}.db`);
    fs.mkdirSync(db, { recursive: true });
    fs.writeFileSync(path.join(db, 'index.txt'), '');
    fs.writeFileSync(path.join(db, 'serial'), `${randomBytes(8).toString('hex')}\n`);
    fs.writeFileSync(
      file(`${name}.cnf`),
      [
        '[ca]',
        'default_ca = d',
        '[d]',
        `database = ${path.join(db, 'index.txt')}`,
        `new_certs_dir = ${db}`,
        `serial = ${path.join(db, 'serial')}`,
        'default_md = sha256',
        'policy = p',
        'unique_subject = no',
        'copy_extensions = none',
        'preserve = yes',
        '[p]',
        'commonName = supplied',
        'organizationName = optional',
        'organizationalUnitName = optional',
        '',
      ].join('\n'),
    );
  };

  return {
    dir,
    file,
    read,
    ca(name, subject = `/CN=${name}`) {
      openssl(dir, [
        'req', '-x509', ...ecKey, '-keyout', `${name}.key`, '-out', `${name}.pem`, '-subj', subject, '-days', '30',
        '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign',
      ]);
      caDb(name);
      return issued(name);
    },
    issue(name, opts) {
      openssl(dir, ['req', ...ecKey, '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', opts.subject]);
      fs.writeFileSync(file(`${name}.ext`), `${(opts.ext ?? []).join('\n')}\n`);
      const validity = opts.startDate && opts.endDate ? ['-startdate', opts.startDate, '-enddate', opts.endDate] : ['-days', String(opts.days ?? 2)];
      openssl(dir, [
        'ca', '-batch', '-notext', '-config', `${opts.ca}.cnf`, '-cert', `${opts.ca}.pem`, '-keyfile', `${opts.ca}.key`,
        '-in', `${name}.csr`, '-out', `${name}.pem`, '-extfile', `${name}.ext`, ...validity,
      ]);
      if ((opts.ext ?? []).some((l) => /CA:TRUE/i.test(l))) caDb(name);
      return issued(name);
    },
    selfSigned(name, subject, ext = []) {
      openssl(dir, [
        'req', '-x509', ...ecKey, '-keyout', `${name}.key`, '-out', `${name}.pem`, '-subj', subject, '-days', '2',
        ...ext.flatMap((e) => ['-addext', e]),
      ]);
      return issued(name);
    },
  };
}
