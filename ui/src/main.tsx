import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import 'uplot/dist/uPlot.min.css';
import './styles.css';
import { can, capabilities, setToken } from './api.ts';
import { AuditPage } from './audit.tsx';
import { CertificatesPage, listableCertMounts } from './certificates.tsx';
import { LineagePage } from './lineage.tsx';
import { Login, type Session } from './login.tsx';
import { OperationsPage } from './operations.tsx';

/** The hash route: "#/audit", "#/lineage?lease_id=…", "#/operations". */
function useRoute(): { page: string; params: URLSearchParams } {
  const read = () => {
    const [p, q] = window.location.hash.replace(/^#\/?/, '').split('?');
    return { page: p || 'audit', params: new URLSearchParams(q ?? '') };
  };
  const [route, setRoute] = useState(read);
  useEffect(() => {
    const on = () => setRoute(read());
    window.addEventListener('hashchange', on);
    return () => window.removeEventListener('hashchange', on);
  }, []);
  return route;
}

const PAGES = [
  ['audit', 'Audit'],
  ['lineage', 'Lineage'],
  ['operations', 'Operations'],
  ['certificates', 'Certificates'],
] as const;

function App() {
  const [session, setSession] = useState<Session | null>(null);
  const route = useRoute();
  // The PKI mounts whose certificates the token may list; the Certificates page is offered only when there is one.
  const [certMounts, setCertMounts] = useState<string[]>([]);
  // The audit search and lineage need sudo on their paths: a token without it is not offered those pages.
  const [auditCaps, setAuditCaps] = useState<{ audit: boolean; lineage: boolean } | null>(null);
  useEffect(() => {
    if (session) void listableCertMounts().then(setCertMounts, () => setCertMounts([]));
    else setCertMounts([]);
    setAuditCaps(null);
    if (session)
      void capabilities(['sys/audit-log', 'sys/audit-log/lineage']).then((c) =>
        setAuditCaps({ audit: can(c['sys/audit-log'], 'read', 'sudo'), lineage: can(c['sys/audit-log/lineage'], 'read', 'sudo') }),
      );
  }, [session]);
  if (!session) return <Login onLogin={setSession} />;
  if (!auditCaps) return <p role="status">Loading…</p>;
  const allowed = (id: string): boolean =>
    id === 'audit' ? auditCaps.audit : id === 'lineage' ? auditCaps.lineage : id === 'certificates' ? certMounts.length > 0 : true;
  const known = PAGES.some(([id]) => id === route.page);
  const page = known && allowed(route.page) ? route.page : (PAGES.find(([id]) => allowed(id))?.[0] ?? 'operations');
  const logout = () => {
    setToken(null);
    setSession(null);
  };
  return (
    <div class="shell">
      <header class="top">
        <span class="brand">sealbox</span>
        <nav aria-label="Pages">
          {PAGES.filter(([id]) => allowed(id)).map(([id, label]) => (
            <a href={`#/${id}`} aria-current={page === id ? 'page' : undefined} key={id}>
              {label}
            </a>
          ))}
        </nav>
        <span class="who" data-testid="who">
          {session.displayName} ({session.policies.join(', ')})
        </span>
        <button type="button" onClick={logout}>
          Log out
        </button>
      </header>
      <main>
        {page === 'lineage' ? (
          <LineagePage params={route.params} />
        ) : page === 'operations' ? (
          <OperationsPage />
        ) : page === 'certificates' ? (
          <CertificatesPage mounts={certMounts} />
        ) : (
          <AuditPage params={route.params} />
        )}
      </main>
    </div>
  );
}

const root = document.getElementById('app');
if (root) render(<App />, root);
