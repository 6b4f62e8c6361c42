import { EXIT_OK, UsageError } from './errors.ts';
import { formatFlag, parseFlags, stringFlag } from './flags.ts';
import { Client, clientConfigFromEnv } from './http.ts';
import { json } from './output.ts';
import { ENV_HELP } from './usage.ts';

type Env = Readonly<Record<string, string | undefined>>;

export const LINEAGE_USAGE = `usage: sealbox audit lineage (-username U | -serial S | -lease-id L | -accessor A | -value-hmac H) [-at TIME] [-format table|json]

Which application held a credential, and who let it (GET sys/audit-log/lineage): the credential (engine, mount,
role, issued, renewed, revoked and by whom), its lease, the token that received it (accessor, policies, parent
chain), the login that made the token (auth mount, method, role, alias and metadata such as a Kubernetes service
account, remote address), the rotation run for a static role, and the audit sequence numbers of every request
involving them. Needs sudo on sys/audit-log/lineage.

  -username U      a database user the broker minted or rotated
  -serial S        a certificate serial ("1f:0a:…", hyphens or plain hex too)
  -lease-id L      a lease ID
  -accessor A      a token accessor
  -value-hmac H    an HMAC from "sealbox write sys/audit-hash/x input=…"
  -at TIME         an RFC 3339 time: for a static role, the password in force then and who held it
  -format FORMAT   table (default: a readable timeline) or json (the API's data)

${ENV_HELP}
`;

const FLAGS = { username: 'username', serial: 'serial', 'lease-id': 'lease_id', accessor: 'accessor', 'value-hmac': 'value_hmac' } as const;

type Obj = Record<string, unknown>;
const obj = (v: unknown): Obj | null => (v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Obj) : null);
const str = (v: unknown): string => (v === null || v === undefined ? '-' : typeof v === 'string' ? v : JSON.stringify(v));

function tokenLines(t: Obj, indent: string): string[] {
  const out = [`${indent}token ${str(t.accessor)} (${str(t.display_name)}), policies ${str((t.policies as string[] | undefined)?.join(','))}, created ${str(t.created_at)}, ${str(t.state)}`];
  const login = obj(t.login);
  if (login) {
    const meta = Object.entries(obj(login.alias_metadata) ?? {}).map(([k, v]) => `${k}=${str(v)}`).join(' ');
    out.push(`${indent}  login ${str(login.path)} (method ${str(login.method)}, role ${str(login.role)}) seq ${str(login.seq)} at ${str(login.time)} from ${str(login.remote_address)}`);
    out.push(`${indent}  alias ${str(login.alias_name)} ${meta}`);
  }
  const parent = obj(t.parent);
  if (parent) out.push(`${indent}  created by:`, ...tokenLines(parent, `${indent}    `));
  return out;
}

/** A readable timeline of a lineage answer. */
export function renderLineage(d: Obj): string {
  const lines: string[] = [];
  const c = obj(d.credential);
  if (c) {
    lines.push(`credential  ${str(c.type)} ${str(c.path)} (engine ${str(c.engine)}, role ${str(c.role)})`);
    if (c.issued_at) lines.push(`  issued ${str(c.issued_at)} seq ${str(c.issued_seq)}`);
    const rb = obj(c.revoked_by);
    if (rb) lines.push(`  revoked ${str(rb.time)} seq ${str(rb.seq)} by ${str(rb.accessor)} (${str(rb.display_name)})`);
  }
  const l = obj(d.lease);
  if (l) {
    lines.push(`lease       ${str(l.id)} ${str(l.state)}, issued ${str(l.issued_at)}, expires ${str(l.expires_at)}, last renewed ${str(l.last_renewed_at)}`);
    const rb = obj(l.revoked_by);
    if (rb) lines.push(`  revoked ${str(rb.time)} seq ${str(rb.seq)} by ${str(rb.accessor)} (${str(rb.display_name)})`);
    if (l.live_at !== undefined) lines.push(`  live at ${str(obj(d.query)?.at)}: ${str(l.live_at)}`);
  }
  const r = obj(d.rotation);
  if (r) {
    const f = obj(r.in_force);
    lines.push(`rotation    ${str(r.id)}: in force ${f ? `run ${str(f.run_id)} (${str(f.kind)}) finished ${str(f.finished_at)}` : 'the password before any run'}`);
    const by = obj(f?.triggered_by);
    if (by) lines.push(`  run started by ${str(by.accessor)} (${str(by.display_name)}) seq ${str(by.seq)}`);
    const n = obj(r.next);
    if (n) lines.push(`  replaced by run ${str(n.run_id)} finished ${str(n.finished_at)}`);
  }
  const t = obj(d.token);
  if (t) lines.push(...tokenLines(t, ''));
  for (const h of (d.holders as unknown[] | undefined) ?? []) {
    const holder = obj(h);
    const ht = obj(holder?.token);
    if (ht) lines.push(`held by (reads ${str((holder?.reads as number[] | undefined)?.join(','))}):`, ...tokenLines(ht, '  '));
  }
  lines.push(`audit seqs  ${((d.audit_seqs as number[] | undefined) ?? []).join(' ')}`);
  return `${lines.join('\n')}\n`;
}

/** `sealbox audit lineage …`. */
export async function runLineage(argv: readonly string[], env: Env): Promise<number> {
  const f = parseFlags(argv, {
    username: { type: 'string' },
    serial: { type: 'string' },
    'lease-id': { type: 'string' },
    accessor: { type: 'string' },
    'value-hmac': { type: 'string' },
    at: { type: 'string' },
    format: { type: 'string' },
  });
  if (f.help) {
    process.stdout.write(LINEAGE_USAGE);
    return EXIT_OK;
  }
  const format = formatFlag(f);
  if (f.positional.length > 0) throw new UsageError(`unexpected argument "${f.positional[0] ?? ''}"`);
  const given = Object.entries(FLAGS).filter(([flag]) => stringFlag(f, flag) !== undefined);
  if (given.length !== 1) throw new UsageError('give exactly one of -username, -serial, -lease-id, -accessor, -value-hmac');
  const [flag, param] = given[0] as [string, string];
  const q: Record<string, string> = { [param]: stringFlag(f, flag) ?? '' };
  const at = stringFlag(f, 'at');
  if (at !== undefined) q.at = at;
  const client = new Client(clientConfigFromEnv(env));
  try {
    const data = obj(await client.read('sys/audit-log/lineage', q)) ?? {};
    process.stdout.write(format === 'json' ? json(data) : renderLineage(data));
    return EXIT_OK;
  } finally {
    client.close();
  }
}
