/** Subject distinguished names in Go's attribute order (C, O, OU, L, ST, street, postal code, CN). */
import type { Subject } from './role.ts';

type JsonName = Record<string, string[]>[];

export function subjectName(commonName: string, s: Partial<Subject> = {}): JsonName {
  const parts: [string, string[] | undefined][] = [
    ['C', s.country],
    ['O', s.organization],
    ['OU', s.ou],
    ['L', s.locality],
    ['ST', s.province],
    ['2.5.4.9', s.streetAddress],
    ['2.5.4.17', s.postalCode],
    ['CN', commonName === '' ? [] : [commonName]],
  ];
  return parts.filter((p): p is [string, string[]] => (p[1]?.length ?? 0) > 0).map(([k, v]) => ({ [k]: v }));
}
