import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/', 'data/', 'coverage/', 'test/support/*.cjs'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/consistent-type-imports': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', ignoreRestSiblings: true }],
      eqeqeq: ['error', 'always'],
      'no-console': 'error',
    },
  },
  {
    // The domain is pure: no I/O, no framework, no adapters (CONVENTIONS.md rule 1).
    files: ['src/domain/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            { group: ['../store/*', '../http/*', '../services/*', '../sync/*', '../../feeds/*', '../../connectors/*'], message: 'src/domain must not depend on adapters.' },
            { group: ['express', 'node:sqlite', 'pg', 'pino', 'node:fs', 'node:http', 'node:net', 'fs', 'http'], message: 'src/domain does no I/O.' },
          ],
        },
      ],
    },
  },
  {
    // The Node version preflight must run on old Node: CommonJS, ES2015.
    files: ['scripts/**/*.cjs'],
    languageOptions: { sourceType: 'commonjs', ecmaVersion: 2015, globals: { require: 'readonly', process: 'readonly' } },
    rules: { '@typescript-eslint/no-require-imports': 'off', 'no-var': 'off' },
  },
  {
    files: ['test/**/*.ts', 'scripts/**/*.ts'],
    rules: { 'no-console': 'off', '@typescript-eslint/no-unused-expressions': 'off' },
  },
);
