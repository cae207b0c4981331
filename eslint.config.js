// ESLint 9 flat config. Formatting (line length included) is Prettier's job (.prettierrc.json), so no stylistic
// rule here; ESLint checks what a formatter cannot: promises nobody awaits and promises passed where a callback
// is expected. Both rules need type information, hence the typed parser (TypeScript's compiler API, 6.0.x).
import { defineConfig } from 'eslint/config';
import tseslint from 'typescript-eslint';

export default defineConfig(
  {
    // Generated (`npm run codegen`), built or produced by runs: not hand-written code. The code-bearing entries
    // of .prettierignore; keep the two in step.
    ignores: ['node_modules/', 'dist/', 'packages/sdk/dist/', 'coverage/', '.data/', 'bench/results/', 'src/__generated__/', 'examples/*/dist/'],
  },
  {
    files: ['**/*.ts', '**/*.tsx'],
    languageOptions: {
      parser: tseslint.parser,
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    plugins: { '@typescript-eslint': tseslint.plugin },
    linterOptions: { reportUnusedDisableDirectives: 'error' },
    rules: {
      // An unawaited promise that rejects is an unhandled rejection, and Node ends the process on one.
      '@typescript-eslint/no-floating-promises': 'error',
      // A promise passed where a callback is expected (an event listener, forEach, a setTimeout callback) is
      // never awaited: its rejection escapes every try/catch around it.
      '@typescript-eslint/no-misused-promises': 'error',
    },
  },
);
