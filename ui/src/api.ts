// The console's only way to the broker: /v1 with the user's token, as any client. The token lives in this module's
// memory only (never localStorage, sessionStorage or a cookie): a reload or closing the tab logs out.
let token: string | null = null;

export const setToken = (t: string | null): void => {
  token = t;
};
export const hasToken = (): boolean => token !== null;

export interface ApiAnswer<T = Record<string, unknown>> {
  status: number;
  data: T;
  errors: string[];
  body: unknown;
}

export class ApiFailure extends Error {
  constructor(
    readonly status: number,
    readonly errors: string[],
  ) {
    super(errors.length > 0 ? errors.join('; ') : `HTTP ${status}`);
  }
}

type Query = Record<string, string | number | undefined>;

export async function call<T = Record<string, unknown>>(method: string, path: string, opts: { query?: Query; body?: unknown; auth?: boolean } = {}): Promise<ApiAnswer<T>> {
  const qs = new URLSearchParams();
  for (const [k, v] of Object.entries(opts.query ?? {})) if (v !== undefined && v !== '') qs.set(k, String(v));
  const headers: Record<string, string> = {};
  if (token !== null && opts.auth !== false) headers['X-Vault-Token'] = token;
  if (opts.body !== undefined) headers['Content-Type'] = 'application/json';
  const res = await fetch(`/v1/${path}${qs.size > 0 ? `?${qs.toString()}` : ''}`, {
    method,
    headers,
    body: opts.body === undefined ? undefined : JSON.stringify(opts.body),
    credentials: 'omit',
    cache: 'no-store',
  });
  const text = await res.text();
  let body: unknown = null;
  try {
    body = text === '' ? null : JSON.parse(text);
  } catch {
    body = text;
  }
  const obj = body !== null && typeof body === 'object' ? (body as Record<string, unknown>) : {};
  const errors = Array.isArray(obj.errors) ? obj.errors.map(String) : [];
  if (res.status >= 400) throw new ApiFailure(res.status, errors);
  return { status: res.status, data: (obj.data ?? {}) as T, errors, body };
}

/** Text answers (the signed checkpoint). */
export async function callText(path: string): Promise<string> {
  const res = await fetch(`/v1/${path}`, { headers: token ? { 'X-Vault-Token': token } : {}, credentials: 'omit', cache: 'no-store' });
  if (res.status >= 400) throw new ApiFailure(res.status, []);
  return res.text();
}

/** The caller's capabilities on each path (sys/capabilities-self), so the console shows only what it may use. */
export async function capabilities(paths: string[]): Promise<Record<string, string[]>> {
  if (paths.length === 0) return {};
  try {
    const r = await call<Record<string, unknown>>('POST', 'sys/capabilities-self', { body: { paths } });
    const out: Record<string, string[]> = {};
    for (const p of paths) out[p] = Array.isArray(r.data[p]) ? (r.data[p] as unknown[]).map(String) : [];
    return out;
  } catch {
    return Object.fromEntries(paths.map((p) => [p, []]));
  }
}

export const can = (caps: string[] | undefined, ...needed: string[]): boolean =>
  caps !== undefined && !caps.includes('deny') && (caps.includes('root') || needed.every((n) => caps.includes(n)));

export const errorText = (e: unknown): string => (e instanceof ApiFailure ? `${e.status}: ${e.message}` : e instanceof Error ? e.message : String(e));
