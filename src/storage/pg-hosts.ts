/**
 * libpq-style multi-host PostgreSQL addresses (issue 21). `pg` parses one host per URL only, so the host list is
 * split here: `postgres://u:p@h1:5432,h2:5433/db?target_session_attrs=read-write`, or several URLs separated by
 * whitespace (a list). Each host becomes one endpoint with a single-host connection string that `pg` understands;
 * the broker tries them in order, as libpq does, and keeps the first that is writable (read-write, the default as
 * soon as there is more than one host) or the first that answers (`any`).
 */

export interface PgEndpoint {
  /** `host:port` as shown in logs and errors (never the credentials). */
  readonly label: string;
  /** A single-host postgres:// URL for `pg` (with the credentials, database and other parameters of its URL). */
  readonly connectionString: string;
}

export interface PgTarget {
  readonly endpoints: readonly PgEndpoint[];
  /** True: only a server that is not in recovery (`pg_is_in_recovery()` false) is used. */
  readonly readWrite: boolean;
}

export class PgAddressError extends Error {}

const URL_SHAPE = /^(postgres(?:ql)?):\/\/(?:([^@/?#]*)@)?([^/?#]*)(\/[^?#]*)?(\?[^#]*)?$/;

/** One host of a host list: `name`, `name:port`, `[v6]` or `[v6]:port`. */
function splitHost(h: string, defaultPort: string): { host: string; port: string } {
  const v6 = /^\[([0-9A-Fa-f:.]+)\](?::(\d{1,5}))?$/.exec(h);
  if (v6) return { host: `[${v6[1]}]`, port: v6[2] ?? defaultPort };
  const plain = /^([A-Za-z0-9._%-]+)(?::(\d{1,5}))?$/.exec(h);
  if (plain?.[1]) return { host: plain[1], port: plain[2] ?? defaultPort };
  throw new PgAddressError(`database URL: "${h}" is not a host or host:port`);
}

interface Parsed {
  endpoints: PgEndpoint[];
  attrs: string | null;
}

function parseOne(url: string): Parsed {
  const m = URL_SHAPE.exec(url);
  if (!m) throw new PgAddressError('database URL: must be postgres://[user[:password]@]host[:port][,host[:port]…][/database][?parameters]');
  const [, scheme, userinfo, hostList = '', path = '', query = ''] = m;
  const params = new URLSearchParams(query.slice(1));
  const attrs = params.get('target_session_attrs');
  params.delete('target_session_attrs');
  const rest = params.toString();
  const hosts = hostList === '' ? ['localhost'] : hostList.split(',');
  const endpoints = hosts.map((raw) => {
    const { host, port } = splitHost(raw.trim(), '5432');
    const auth = userinfo === undefined ? '' : `${userinfo}@`;
    return {
      label: `${host}:${port}`,
      connectionString: `${scheme}://${auth}${host}:${port}${path}${rest ? `?${rest}` : ''}`,
    };
  });
  return { endpoints, attrs };
}

/** Parses a database URL, a multi-host URL, or a whitespace-separated list of them. */
export function parsePgTarget(spec: string): PgTarget {
  const urls = spec.split(/\s+/).filter((s) => s.length > 0);
  if (urls.length === 0) throw new PgAddressError('database URL: empty');
  const parsed = urls.map(parseOne);
  const attrs = new Set(parsed.map((p) => p.attrs).filter((a): a is string => a !== null));
  if (attrs.size > 1) throw new PgAddressError('database URL: the URLs of a list disagree on target_session_attrs');
  const attr = [...attrs][0];
  if (attr !== undefined && !['any', 'read-write', 'primary'].includes(attr)) {
    throw new PgAddressError(`database URL: target_session_attrs "${attr}" is not supported (use read-write, primary or any)`);
  }
  const endpoints = parsed.flatMap((p) => p.endpoints);
  // A broker writes: with several hosts, only the primary will do unless the operator says otherwise.
  const readWrite = attr === undefined ? endpoints.length > 1 : attr !== 'any';
  return { endpoints, readWrite };
}
