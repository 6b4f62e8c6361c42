import test, { type ExecutionContext } from 'ava';
import { AppError } from '../../lib/errors.ts';
import { DEFAULT_CONFIG, isLive, newMeta, type KvConfig, type SecretMeta } from './model.ts';
import { addVersion, checkCas, destroy, effectiveDeleteAfter, effectiveMaxVersions, prune, softDelete, undelete } from './versioning.ts';

const T0 = new Date('2030-01-01T00:00:00.000Z');
const at = (seconds: number): Date => new Date(T0.getTime() + seconds * 1000);
const cfg = (c: Partial<KvConfig> = {}): KvConfig => ({ ...DEFAULT_CONFIG, ...c });

function written(times: number, config = cfg(), meta: SecretMeta = newMeta(T0)): { meta: SecretMeta; pruned: number[] } {
  let m = meta;
  const pruned: number[] = [];
  for (let i = 1; i <= times; i++) {
    const r = addVersion(config, m, { n: i }, at(i));
    m = r.meta;
    pruned.push(...r.pruned);
  }
  return { meta: m, pruned };
}

const is400 = (t: ExecutionContext, fn: () => void, message: RegExp): void => {
  const err = t.throws(fn, { instanceOf: AppError });
  t.is(err?.code, 'bad_request');
  t.regex(err?.message ?? '', message);
};

test('versions count up from 1, with created times from the given clock and the data kept as latest', (t) => {
  const { meta } = written(3);
  t.is(meta.currentVersion, 3);
  t.deepEqual(Object.keys(meta.versions), ['1', '2', '3']);
  t.is(meta.versions['2']?.createdTime, at(2).toISOString());
  t.is(meta.updatedTime, at(3).toISOString());
  t.deepEqual(meta.latest, { version: 3, data: { n: 3 } });
});

test('max_versions prunes the oldest versions as Vault does (default 10; the secret overrides the mount)', (t) => {
  const ten = written(11);
  t.deepEqual(ten.pruned, [1]);
  t.is(ten.meta.oldestVersion, 2);
  t.false('1' in ten.meta.versions);

  const three = written(5, cfg({ maxVersions: 3 }));
  t.deepEqual(three.pruned.sort((a, b) => a - b), [1, 2]);
  t.deepEqual(Object.keys(three.meta.versions), ['3', '4', '5']);

  const own = { ...newMeta(T0), maxVersions: 2 };
  t.is(effectiveMaxVersions(cfg({ maxVersions: 5 }), own), 2);
  t.is(effectiveMaxVersions(cfg({ maxVersions: 5 }), newMeta(T0)), 5);
  t.is(effectiveMaxVersions(cfg(), newMeta(T0)), 10);
});

test('prune leaves a secret inside its window untouched; at the edge it moves oldest without deleting', (t) => {
  const { meta } = written(3);
  const r = prune(meta, 4);
  t.is(r.meta, meta);
  t.deepEqual(r.pruned, []);
  // current − oldest (3 − 0) reached max: Vault's rule moves oldest to current − max + 1 = 1, nothing to delete.
  const edge = prune(meta, 3);
  t.deepEqual(edge.pruned, []);
  t.is(edge.meta.oldestVersion, 1);
  t.deepEqual(Object.keys(edge.meta.versions), ['1', '2', '3']);
});

test('check-and-set: cas must equal the current version; cas_required on mount or secret demands one', (t) => {
  const { meta } = written(2);
  t.notThrows(() => checkCas(cfg(), meta, 2));
  t.notThrows(() => checkCas(cfg(), meta, undefined));
  is400(t, () => checkCas(cfg(), meta, 1), /did not match/);
  is400(t, () => checkCas(cfg(), meta, 3), /did not match/);
  t.notThrows(() => checkCas(cfg(), newMeta(T0), 0), 'cas 0 writes a secret that has no version yet');
  is400(t, () => checkCas(cfg(), meta, 0), /did not match/);
  is400(t, () => checkCas(cfg({ casRequired: true }), meta, undefined), /required/);
  is400(t, () => checkCas(cfg(), { ...meta, casRequired: true }, undefined), /required/);
});

test('delete_version_after: the smaller non-zero of mount and secret schedules each new version', (t) => {
  t.is(effectiveDeleteAfter(cfg({ deleteVersionAfter: 60 }), { ...newMeta(T0), deleteVersionAfter: 30 }), 30);
  t.is(effectiveDeleteAfter(cfg({ deleteVersionAfter: 60 }), newMeta(T0)), 60);
  t.is(effectiveDeleteAfter(cfg(), newMeta(T0)), 0);
  const { meta } = written(1, cfg({ deleteVersionAfter: 60 }));
  const vm = meta.versions['1'];
  if (!vm) return t.fail('no version 1');
  t.is(vm.deletionTime, at(61).toISOString());
  t.true(isLive(vm, at(60)));
  t.false(isLive(vm, at(61)), 'gone exactly at its deletion time');
});

test('soft delete marks live versions at now; unknown, deleted and destroyed versions are left alone', (t) => {
  const { meta } = written(3);
  const gone = softDelete(meta, [1, 2, 99], at(10));
  t.is(gone.versions['1']?.deletionTime, at(10).toISOString());
  t.is(gone.versions['3']?.deletionTime, '');
  t.false('99' in gone.versions);
  const again = softDelete(gone, [1], at(20));
  t.is(again.versions['1']?.deletionTime, at(10).toISOString(), 'a second delete does not move the time');
  t.is(meta.versions['1']?.deletionTime, '', 'the input is not mutated');
});

test('undelete clears a deletion (re-arming delete_version_after from now) but never revives a destroyed version', (t) => {
  const { meta } = written(2);
  const deleted = softDelete(meta, [1, 2], at(10));
  const destroyed = destroy(deleted, [2]).meta;
  const back = undelete(cfg(), destroyed, [1, 2], at(20));
  t.is(back.versions['1']?.deletionTime, '');
  t.true(back.versions['2']?.destroyed);
  t.is(back.versions['2']?.deletionTime, at(10).toISOString());
  const rearmed = undelete(cfg({ deleteVersionAfter: 5 }), deleted, [1], at(20));
  t.is(rearmed.versions['1']?.deletionTime, at(25).toISOString());
});

test('destroy names only versions that exist, once each, and destroyed versions are never live', (t) => {
  const { meta } = written(2);
  const r = destroy(meta, [2, 2, 7]);
  t.deepEqual(r.destroyed, [2]);
  const vm = r.meta.versions['2'];
  if (!vm) return t.fail('no version 2');
  t.true(vm.destroyed);
  t.false(isLive(vm, T0));
  t.deepEqual(destroy(r.meta, [2]).destroyed, [2], 'destroying again still names it (its data entry must go)');
});
