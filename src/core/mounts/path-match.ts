import type { PathDef } from '../engine.ts';
import { overlapError } from './path-overlap.ts';

export interface PathMatch {
  def: PathDef;
  params: Record<string, string>;
}

interface Compiled {
  def: PathDef;
  segments: string[];
}

function matchOne(c: Compiled, parts: readonly string[]): Record<string, string> | null {
  const params: Record<string, string> = {};
  for (let i = 0; i < c.segments.length; i++) {
    const seg = c.segments[i] ?? '';
    if (seg.startsWith('*')) {
      // `*name` takes one or more segments: the rest, less the literal segments that follow it ("mounts/*path/tune").
      const tail = c.segments.slice(i + 1);
      const end = parts.length - tail.length;
      if (end <= i || tail.some((lit, j) => parts[end + j] !== lit)) return null;
      params[seg.slice(1)] = parts.slice(i, end).join('/');
      return params;
    }
    const part = parts[i];
    if (part === undefined) return null;
    if (seg.startsWith(':')) params[seg.slice(1)] = part;
    else if (seg !== part) return null;
  }
  return parts.length === c.segments.length ? params : null;
}

/** Compiles an engine's path list into a matcher. Throws when two patterns can match the same path. */
export function createPathMatcher(defs: readonly PathDef[]): (path: string) => PathMatch | null {
  const overlap = overlapError(defs);
  if (overlap) throw new Error(overlap);
  const compiled: Compiled[] = defs.map((def) => ({ def, segments: def.pattern === '' ? [] : def.pattern.split('/') }));
  return (path) => {
    const parts = path === '' ? [] : path.split('/');
    for (const c of compiled) {
      const params = matchOne(c, parts);
      if (params) return { def: c.def, params };
    }
    return null;
  };
}
