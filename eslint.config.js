import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['node_modules/**', 'agent/node_modules/**', '.sealbox/**', 'dist/**', 'agent/dist/**', 'ui/dist/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts'],
    rules: {
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error',
      'no-restricted-imports': ['error', { patterns: [{ group: ['pg-mem'], message: 'Tests use a real PostgreSQL.' }] }],
    },
  },
  {
    files: ['src/engines/**/*.ts', 'src/auth/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', { patterns: [
        { group: ['**/http/**', '**/storage/**'], message: 'Engines use only core/engine.ts and lib/ (DESIGN §10).' },
      ] }],
    },
  },
  {
    files: ['src/storage/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', { patterns: [
        { group: ['**/core/**', '**/http/**', '**/engines/**'], message: 'storage/ imports only lib/ (DESIGN §10).' },
      ] }],
    },
  },
  {
    files: ['src/core/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', { patterns: [
        { group: ['**/http/**', '**/engines/**'], message: 'core/ does not import http/ or engines (DESIGN §10).' },
      ] }],
    },
  },
);
