import type { TokenAlias } from '../../../storage/tokens-store.ts';
import type { PolicyRule } from './parse.ts';

export interface Identity {
  entityName: string;
  alias: TokenAlias | null;
}

const TEMPLATE = /\{\{\s*([^}]+?)\s*\}\}/g;

export const isTemplated = (rule: PolicyRule): boolean => rule.path.includes('{{');

/** A value that could widen a path (globs, segment wildcards, dot segments, empty) never lands in one. */
// eslint-disable-next-line no-control-regex -- control characters are what it refuses
const UNSAFE = /[*+{}\u0000-\u001f]/;
const safe = (v: string | undefined): v is string =>
  v !== undefined && v.length > 0 && v.length <= 256 && !UNSAFE.test(v) && !v.split('/').some((s) => s === '' || s === '.' || s === '..');

function resolve(name: string, id: Identity): string | undefined {
  const parts = name.split('.');
  if (parts[0] !== 'identity' || parts[1] !== 'entity') return undefined;
  const alias = id.alias;
  switch (parts[2]) {
    case 'name':
      return parts.length === 3 ? id.entityName || undefined : undefined;
    case 'metadata':
      return parts.length === 4 && alias ? alias.metadata[parts[3] ?? ''] : undefined;
    case 'aliases': {
      if (!alias || parts[3] !== alias.mountAccessor) return undefined;
      if (parts[4] === 'name' && parts.length === 5) return alias.name;
      if (parts[4] === 'metadata' && parts.length === 6) return alias.metadata[parts[5] ?? ''];
      return undefined;
    }
    default:
      return undefined;
  }
}

/**
 * Expands {{identity.entity.name}}, {{identity.entity.metadata.KEY}}, {{identity.entity.aliases.ACCESSOR.name}} and
 * {{identity.entity.aliases.ACCESSOR.metadata.KEY}}. A rule whose template cannot be filled, or would be filled with a
 * value that could widen it, is dropped, as Vault drops it. (sealbox's entity is the login's alias: its name is the
 * alias name and its metadata the alias metadata.)
 */
export function expandTemplates(rules: readonly PolicyRule[], id: Identity): PolicyRule[] {
  const out: PolicyRule[] = [];
  for (const rule of rules) {
    if (!isTemplated(rule)) {
      out.push(rule);
      continue;
    }
    let ok = true;
    const path = rule.path.replace(TEMPLATE, (_m, name: string) => {
      const v = resolve(name, id);
      if (!safe(v)) {
        ok = false;
        return '';
      }
      return v;
    });
    if (ok) out.push({ ...rule, path });
  }
  return out;
}
