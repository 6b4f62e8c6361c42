import { useEffect, useState } from 'preact/hooks';
import { call, can, capabilities, errorText } from './api.ts';
import { listMounts } from './mounts.ts';
import { summarise } from './x509.ts';

/** Certificates shown (and read) per page of a mount's list. */
export const CERT_PAGE = 25;

interface CertRow {
  serial: string;
  subject: string;
  notAfter: string;
  revoked: string;
  error?: string;
}

/** The PKI mounts whose certificates this token may list (sys/mounts, then sys/capabilities-self on <mount>certs/: a
 * LIST is checked against the path with its trailing slash, as in Vault). */
export async function listableCertMounts(): Promise<string[]> {
  const pki = (await listMounts()).filter((m) => m.kind === 'secret' && m.type === 'pki').map((m) => m.path);
  const caps = await capabilities(pki.map((p) => `${p}certs/`));
  return pki.filter((p) => can(caps[`${p}certs/`], 'list'));
}

function MountCerts(props: { mount: string }) {
  const { mount } = props;
  const [serials, setSerials] = useState<string[] | null>(null);
  const [page, setPage] = useState(0);
  const [rows, setRows] = useState<CertRow[]>([]);
  const [error, setError] = useState('');
  useEffect(() => {
    call<{ keys: string[] }>('GET', `${mount}certs`, { query: { list: 'true' } }).then(
      (r) => setSerials(r.data.keys ?? []),
      (e) => (String(errorText(e)).startsWith('404') ? setSerials([]) : setError(errorText(e))),
    );
  }, [mount]);
  useEffect(() => {
    if (!serials) return;
    const shown = serials.slice(page * CERT_PAGE, (page + 1) * CERT_PAGE);
    void Promise.all(
      shown.map(async (serial): Promise<CertRow> => {
        try {
          const d = (await call<{ certificate: string; revocation_time: number; revocation_time_rfc3339?: string }>('GET', `${mount}cert/${serial}`)).data;
          const sum = summarise(d.certificate ?? '');
          return { serial, subject: sum?.subject ?? '—', notAfter: sum?.notAfter ?? '—', revoked: d.revocation_time > 0 ? (d.revocation_time_rfc3339 ?? 'yes') : 'no' };
        } catch (e) {
          return { serial, subject: '—', notAfter: '—', revoked: '—', error: errorText(e) };
        }
      }),
    ).then(setRows);
  }, [serials, page]);
  const pages = serials ? Math.max(1, Math.ceil(serials.length / CERT_PAGE)) : 1;
  const now = new Date().toISOString();
  return (
    <section aria-labelledby={`certs-${mount}`}>
      <h2 id={`certs-${mount}`}>{mount}</h2>
      {error && <p role="alert" class="error">{error}</p>}
      {serials && (
        <p data-testid={`cert-count-${mount}`}>
          {serials.length} certificates{pages > 1 ? `, page ${page + 1} of ${pages}` : ''}
        </p>
      )}
      <div class="table-wrap">
        <table aria-label={`Certificates of ${mount}`}>
          <thead>
            <tr>
              <th scope="col">Serial</th>
              <th scope="col">Subject</th>
              <th scope="col">Expires</th>
              <th scope="col">Revoked</th>
              <th scope="col">Lineage</th>
            </tr>
          </thead>
          <tbody>
            {rows.map((r) => (
              <tr key={r.serial} data-serial={r.serial}>
                <td class="path">{r.serial}</td>
                <td>{r.error ?? r.subject}</td>
                <td class={r.notAfter !== '—' && r.notAfter < now ? 'denied' : ''}>{r.notAfter}</td>
                <td class={r.revoked !== 'no' ? 'denied' : ''}>{r.revoked}</td>
                <td>
                  <a href={`#/lineage?serial=${encodeURIComponent(r.serial)}`} aria-label={`Lineage of ${r.serial}`}>
                    Lineage
                  </a>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      {pages > 1 && (
        <p class="actions">
          <button type="button" disabled={page === 0} onClick={() => setPage(page - 1)}>
            Previous page
          </button>
          <button type="button" disabled={page + 1 >= pages} onClick={() => setPage(page + 1)}>
            Next page
          </button>
        </p>
      )}
    </section>
  );
}

export function CertificatesPage(props: { mounts: string[] }) {
  return (
    <div class="page">
      <h1>Certificates</h1>
      {props.mounts.length === 0 && <p>No PKI mount this token may list.</p>}
      {props.mounts.map((m) => (
        <MountCerts key={m} mount={m} />
      ))}
    </div>
  );
}
