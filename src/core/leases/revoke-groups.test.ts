import test from 'ava';
import type { LeaseInfo, SecretType } from '../engine.ts';
import type { LeaseRow } from '../../storage/leases-store.ts';
import type { ClaimedLease } from './leases.ts';
import { revokeInGroups, type RevokeGroupsOptions } from './revoke-groups.ts';

const at = new Date(0);
function item(id: string, type: SecretType, mountId = 'm1', secretType = 'creds'): ClaimedLease {
  const row = { id, mountId, secretType } as LeaseRow;
  const lease: LeaseInfo = { id, internal: {}, issuedAt: at, expiresAt: at };
  return { row, type, lease };
}

function options(over: Partial<RevokeGroupsOptions> = {}): RevokeGroupsOptions & { failures: Map<string, string> } {
  const failures = new Map<string, string>();
  return {
    concurrency: 4,
    chunk: 3,
    late: () => false,
    failed: async (x, err) => {
      failures.set(x.row.id, err instanceof Error ? err.message : String(err));
    },
    failures,
    ...over,
  };
}

/** A type that records its calls; ids in `bad` fail (in revokeMany's answer and in revoke). */
function recorder(bad: ReadonlySet<string> = new Set(), many = true) {
  const calls: string[][] = [];
  const singles: string[] = [];
  const type: SecretType = {
    async revoke(l) {
      singles.push(l.id);
      if (bad.has(l.id)) throw new Error(`no ${l.id}`);
    },
  };
  if (many) {
    type.revokeMany = async (ls) => {
      calls.push(ls.map((l) => l.id));
      return ls.map((l) => (bad.has(l.id) ? new Error(`batch: no ${l.id}`) : null));
    };
  }
  return { type, calls, singles };
}

test('a group goes to revokeMany in chunks; each lease keeps its own outcome', async (t) => {
  const r = recorder(new Set(['b']));
  const items = ['a', 'b', 'c', 'd', 'e'].map((id) => item(id, r.type));
  const opts = options();
  const out = await revokeInGroups(items, opts);
  t.deepEqual(r.calls.flat().sort(), ['a', 'b', 'c', 'd', 'e']);
  t.deepEqual(r.calls.map((c) => c.length).sort(), [2, 3]);
  t.deepEqual(r.singles, []);
  t.deepEqual(out.gone.sort(), ['a', 'c', 'd', 'e']);
  t.deepEqual([...opts.failures], [['b', 'batch: no b']]);
});

test('mounts and secret types are grouped apart; a type without revokeMany and a group of one go one by one', async (t) => {
  const many = recorder();
  const plain = recorder(new Set(), false);
  const items = [item('a', many.type), item('b', many.type), item('c', many.type, 'm2'), item('d', plain.type, 'm3'), item('e', plain.type, 'm3')];
  const out = await revokeInGroups(items, options());
  t.deepEqual(many.calls, [['a', 'b']]);
  t.deepEqual(many.singles, ['c']);
  t.deepEqual(plain.singles.sort(), ['d', 'e']);
  t.deepEqual(out.gone.sort(), ['a', 'b', 'c', 'd', 'e']);
});

test('revokeMany that throws or answers for the wrong number of leases: every lease is revoked on its own', async (t) => {
  for (const broken of [
    async (): Promise<(Error | null)[]> => {
      throw new Error('storage down');
    },
    async (): Promise<(Error | null)[]> => [null],
  ]) {
    const r = recorder(new Set(['b']));
    r.type.revokeMany = broken;
    const opts = options({ chunk: 10 });
    const out = await revokeInGroups(['a', 'b', 'c'].map((id) => item(id, r.type)), opts);
    t.deepEqual(r.singles.sort(), ['a', 'b', 'c']);
    t.deepEqual(out.gone.sort(), ['a', 'c']);
    t.deepEqual([...opts.failures.keys()], ['b']);
  }
});

test('once it is late nothing more is started: those leases go back to the queue, neither gone nor failed', async (t) => {
  const r = recorder();
  const opts = options({ late: () => true });
  const out = await revokeInGroups(['a', 'b', 'c', 'd'].map((id) => item(id, r.type)), opts);
  t.deepEqual(out.late.sort(), ['a', 'b', 'c', 'd']);
  t.deepEqual(out.gone, []);
  t.deepEqual(r.calls, []);
  t.is(opts.failures.size, 0);
});
