/**
 * SQL statement templates: Vault's `{{name}}`, `{{username}}`, `{{password}}` and `{{expiration}}` placeholders,
 * split into single statements on ";" outside quotes, dollar quotes and comments.
 *
 * Substituted values are inserted as they are, inside the quotes the operator wrote (Vault's convention). They are
 * safe there because of what they can contain: usernames are checked against SAFE_USERNAME, the password is a SCRAM
 * verifier (base64 and "$:"), and the expiration is a timestamp the broker formats. The statements the broker
 * writes itself use escapeIdentifier/escapeLiteral instead.
 */
import pg from 'pg';

/** Characters a generated username may hold: none of them can end a quoted identifier or literal. */
export const SAFE_USERNAME = /^[A-Za-z0-9_.@+-]{1,63}$/;

export type StatementVars = Partial<Record<'name' | 'username' | 'password' | 'expiration', string>>;

export function substitute(statement: string, vars: StatementVars): string {
  return statement.replace(/\{\{\s*(name|username|password|expiration)\s*\}\}/g, (all: string, key: keyof StatementVars) => vars[key] ?? all);
}

/** Splits statements on ";" that are outside '…', "…", $tag$…$tag$, -- comments and block comments. */
export function splitStatements(text: string): string[] {
  const out: string[] = [];
  let start = 0;
  let i = 0;
  while (i < text.length) {
    const ch = text[i];
    if (ch === "'" || ch === '"') {
      const end = text.indexOf(ch, i + 1);
      i = end < 0 ? text.length : end + 1;
    } else if (ch === '-' && text[i + 1] === '-') {
      const end = text.indexOf('\n', i);
      i = end < 0 ? text.length : end + 1;
    } else if (ch === '/' && text[i + 1] === '*') {
      const end = text.indexOf('*/', i + 2);
      i = end < 0 ? text.length : end + 2;
    } else if (ch === '$') {
      const tag = /^\$[A-Za-z_]*\$/.exec(text.slice(i))?.[0];
      if (tag) {
        const end = text.indexOf(tag, i + tag.length);
        i = end < 0 ? text.length : end + tag.length;
      } else i++;
    } else if (ch === ';') {
      out.push(text.slice(start, i));
      start = ++i;
    } else i++;
  }
  out.push(text.slice(start));
  return out.map((s) => s.trim()).filter((s) => s.length > 0);
}

/** Every statement of a list, split and with the placeholders filled in. */
export function renderStatements(statements: readonly string[], vars: StatementVars): string[] {
  return statements.flatMap((s) => splitStatements(s)).map((s) => substitute(s, vars));
}

/** A timestamptz literal body in UTC, as Vault formats expirations ("2006-01-02 15:04:05+0000"). */
export function formatExpiration(at: Date): string {
  // Rounded up to the whole second: Vault's form has no fraction, and a password that stopped working before its
  // lease ended (truncated, up to 999 ms early) left an agent's freshly fetched successor no time to land.
  const iso = new Date(Math.ceil(at.getTime() / 1000) * 1000).toISOString();
  return `${iso.slice(0, 10)} ${iso.slice(11, 19)}+0000`;
}

/** The default creation statement: membership in a pre-granted group role (DESIGN §5). */
export function defaultCreation(username: string, verifier: string, expiration: string, group: string): string {
  return (
    `CREATE ROLE ${pg.escapeIdentifier(username)} WITH LOGIN PASSWORD ${pg.escapeLiteral(verifier)} ` +
    `VALID UNTIL ${pg.escapeLiteral(expiration)} IN ROLE ${pg.escapeIdentifier(group)}`
  );
}

export const defaultRenew = (username: string, expiration: string): string =>
  `ALTER ROLE ${pg.escapeIdentifier(username)} VALID UNTIL ${pg.escapeLiteral(expiration)}`;
