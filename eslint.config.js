// Lint: typescript-eslint's strict rules over the CLI, the sandbox plugin, the tests and the
// scripts; the layer rules that a linter can see (the engine renders nothing; the CLI never
// imports the sandbox) are also checked by test/unit/layers.test.ts.
import js from '@eslint/js'
import tseslint from 'typescript-eslint'

export default tseslint.config(
  {ignores: ['**/dist/**', '**/dist-check/**', 'node_modules/**', '**/node_modules/**', 'coverage/**']},
  js.configs.recommended,
  ...tseslint.configs.strict,
  {
    languageOptions: {
      globals: {
        process: 'readonly',
        console: 'readonly',
        URL: 'readonly',
        setTimeout: 'readonly',
        clearTimeout: 'readonly',
        setInterval: 'readonly',
        clearInterval: 'readonly',
        fetch: 'readonly',
        AbortController: 'readonly',
        AbortSignal: 'readonly',
        Buffer: 'readonly',
        structuredClone: 'readonly',
        performance: 'readonly',
      },
    },
    rules: {
      // `!` states what the code's logic guarantees (an index it just checked, a map entry it
      // just set); `any` marks walking untyped data (YAML trees, zod internals, Kubernetes
      // objects, SDK constructors). Both are deliberate here; strict's other rules hold.
      '@typescript-eslint/no-non-null-assertion': 'off',
      '@typescript-eslint/no-explicit-any': 'off',
      // Stores keyed by name (the Kubernetes stand-in, env copies) delete keys on purpose.
      '@typescript-eslint/no-dynamic-delete': 'off',
      // Unused arguments are named _x on purpose; unused variables are errors.
      '@typescript-eslint/no-unused-vars': ['error', {argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none'}],
    },
  },
  {
    files: ['src/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: ['@clipper-ops/sandbox', '@clipper-ops/sandbox/*', '**/packages/sandbox/**'],
              message: "The CLI never imports its sandbox plugin: the plugin writes to the CLI's contracts (CONTRIBUTING.md).",
            },
          ],
        },
      ],
    },
  },
  {
    files: ['src/lib/engine/**/*.ts'],
    rules: {
      'no-restricted-properties': [
        'error',
        {object: 'process', property: 'stdout', message: 'The engine renders nothing: emit an event to the host.'},
        {object: 'process', property: 'stderr', message: 'The engine renders nothing: emit an event to the host.'},
        {object: 'process', property: 'exit', message: 'The engine never exits the process: return an outcome.'},
      ],
    },
  },
)
