/** Generated database usernames: the config's template (or Vault's PostgreSQL default), checked to be safe and ≤ 63 bytes. */
import { badRequest } from '../../lib/errors.ts';
import type { Random } from '../../lib/random.ts';
import { SAFE_USERNAME } from './statements.ts';
import { compileUsernameTemplate, DEFAULT_USERNAME_TEMPLATE } from './username-template.ts';

/** Template inputs keep only characters that are safe inside quoted SQL (a display name may hold anything). */
const clean = (s: string): string => s.replace(/[^A-Za-z0-9_.-]/g, '-');

function generate(template: string, ctx: { displayName: string; roleName: string; now: Date; random: Random }): string {
  const username = compileUsernameTemplate(template === '' ? DEFAULT_USERNAME_TEMPLATE : template).render({
    ...ctx,
    displayName: clean(ctx.displayName),
    roleName: clean(ctx.roleName),
  });
  if (!SAFE_USERNAME.test(username)) {
    throw badRequest(
      `username_template: produced ${Buffer.byteLength(username) > 63 ? 'a username longer than 63 bytes' : 'an empty username or one with characters other than letters, digits and "_.@+-"'}`,
    );
  }
  return username;
}

/**
 * The check renders one sample with fixed inputs, so that whether a template is accepted never depends on the time
 * or on chance: a late-2099 time (every date field at its widest) and random characters that are all "z".
 */
const SAMPLE_NOW = new Date(Date.UTC(2099, 11, 31, 23, 59, 59, 999));
const SAMPLE_RANDOM: Random = { bytes: (n) => Buffer.alloc(n, 61), uuid: () => 'ffffffff-ffff-4fff-bfff-ffffffffffff' };

/** Throws a 400 when the template does not parse or does not produce a valid username. */
export function checkUsernameTemplate(template: string): void {
  generate(template, { displayName: 'token', roleName: 'role', now: SAMPLE_NOW, random: SAMPLE_RANDOM });
}

export function generateUsername(template: string, ctx: { displayName: string; roleName: string; now: Date; random: Random }): string {
  return generate(template, ctx);
}
