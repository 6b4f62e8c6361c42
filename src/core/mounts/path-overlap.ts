/**
 * Two path patterns of one engine overlap when some request path matches both: the matcher takes the first, so the
 * second would silently never see that path. Engines are refused at build time when they have such a pair.
 *
 * A pattern is a sequence of segments: a literal, `:name` (exactly one segment) or `*name` (one or more). As
 * languages over segments these are regular, so two patterns overlap exactly when their intersection is non-empty,
 * which a memoised walk over both sequences decides.
 */
type Token = { kind: 'lit'; text: string } | { kind: 'one' } | { kind: 'many' };

function tokens(pattern: string): Token[] {
  if (pattern === '') return [];
  // `*name` is one segment followed by zero or more: `many` stands for the zero-or-more part.
  return pattern.split('/').flatMap((seg): Token[] => (seg.startsWith('*') ? [{ kind: 'one' }, { kind: 'many' }] : seg.startsWith(':') ? [{ kind: 'one' }] : [{ kind: 'lit', text: seg }]));
}

/** True when some path matches both patterns. */
export function patternsOverlap(a: string, b: string): boolean {
  return tokensOverlap(tokens(a), tokens(b));
}

function tokensOverlap(x: readonly Token[], y: readonly Token[]): boolean {
  // The cheap refusals first (most pairs of an engine's paths differ in a leading literal or, without `*`, in length).
  const x0 = x[0];
  const y0 = y[0];
  if (x0?.kind === 'lit' && y0?.kind === 'lit' && x0.text !== y0.text) return false;
  const xMany = x.some((t) => t.kind === 'many');
  const yMany = y.some((t) => t.kind === 'many');
  if (!xMany && !yMany && x.length !== y.length) return false;
  const memo = new Map<number, boolean>();
  const walk = (i: number, j: number): boolean => {
    const key = i * (y.length + 1) + j;
    const known = memo.get(key);
    if (known !== undefined) return known;
    memo.set(key, false);
    const s = x[i];
    const t = y[j];
    let result: boolean;
    if (s?.kind === 'many') result = walk(i + 1, j) || (t !== undefined && walk(i, j + 1));
    else if (t?.kind === 'many') result = walk(i, j + 1) || (s !== undefined && walk(i + 1, j));
    else if (s === undefined || t === undefined) result = s === undefined && t === undefined;
    else result = (s.kind !== 'lit' || t.kind !== 'lit' || s.text === t.text) && walk(i + 1, j + 1);
    memo.set(key, result);
    return result;
  };
  return walk(0, 0);
}

type Defs = readonly { pattern: string; overrides?: readonly string[] }[];

// Every mount of one engine type has the same path list: it is checked once per process (a dev broker's start-up
// checked the same lists for each of its mounts, at O(n^2) pairs each).
const checked = new Map<string, string | null>();

/**
 * Why this list of paths cannot be matched unambiguously, or null when it can. An overlap is allowed only where the
 * earlier path names the later one in `overrides` (the earlier one then takes the paths both match, as
 * "mounts/*path/tune" takes "mounts/a/tune" from "mounts/*path").
 */
export function overlapError(defs: Defs): string | null {
  const key = JSON.stringify(defs.map((d) => [d.pattern, d.overrides ?? []]));
  const known = checked.get(key);
  if (known !== undefined) return known;
  const found = findOverlap(defs);
  checked.set(key, found);
  return found;
}

function findOverlap(defs: Defs): string | null {
  const toks = defs.map((d) => tokens(d.pattern));
  for (let i = 0; i < defs.length; i++) {
    for (let j = i + 1; j < defs.length; j++) {
      const a = defs[i];
      const b = defs[j];
      if (!a || !b || !tokensOverlap(toks[i] ?? [], toks[j] ?? []) || a.overrides?.includes(b.pattern)) continue;
      if (b.overrides?.includes(a.pattern)) return `path "${b.pattern}" overrides "${a.pattern}" but comes after it`;
      return `path patterns "${a.pattern}" and "${b.pattern}" overlap (some path matches both) and neither overrides the other`;
    }
  }
  return null;
}
