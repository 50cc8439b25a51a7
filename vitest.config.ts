import { defineConfig } from 'vitest/config';

const sources = ['packages/*/src/**', 'services/*/src/**', 'tests/src/**'];
const exclude = ['**/node_modules/**', '**/dist/**'];

export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          include: sources.map((glob) => `${glob}/*.unit.test.ts`),
          exclude,
        },
      },
      {
        test: {
          name: 'integration',
          include: sources.flatMap((glob) => [`${glob}/*.int.test.ts`, `${glob}/*.e2e.test.ts`]),
          exclude,
          globalSetup: ['tests/src/global-setup.ts'],
          // Two cores: real servers per file, one file at a time.
          fileParallelism: false,
          testTimeout: 120_000,
          hookTimeout: 120_000,
        },
      },
    ],
  },
});
