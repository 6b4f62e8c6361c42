import test from 'ava';
import { AppError } from '../../lib/errors.ts';
import { configNameField, configNameParam, roleNameParam } from './names.ts';

test('names of 1 to 64 letters, digits, "_" and "-" pass unchanged', (t) => {
  t.is(roleNameParam({ name: 'readonly' }), 'readonly');
  t.is(configNameParam({ name: 'pg_main-2' }), 'pg_main-2');
  t.is(configNameField('A'.repeat(64), 'db_name'), 'A'.repeat(64));
});

test('anything else is a 400 naming what was wrong, never a storage key', (t) => {
  const cases: [() => string, RegExp][] = [
    [() => roleNameParam({}), /^role name: /],
    [() => roleNameParam({ name: '' }), /^role name: /],
    [() => roleNameParam({ name: 'a'.repeat(65) }), /^role name: /],
    [() => roleNameParam({ name: '../x' }), /^role name: /],
    [() => roleNameParam({ name: 'a/b' }), /^role name: /],
    [() => configNameParam({ name: 'pg main' }), /^config name: /],
    [() => configNameParam({ name: 'pg\u0000' }), /^config name: /],
    [() => configNameParam({ name: 'données' }), /^config name: /],
    [() => configNameField('a b', 'db_name'), /^db_name: /],
    [() => configNameField('.hidden', 'db_name'), /^db_name: /],
  ];
  for (const [fn, message] of cases) {
    const err = t.throws(fn, { instanceOf: AppError });
    t.is(err?.code, 'bad_request');
    t.regex(err?.message ?? '', message);
  }
});
