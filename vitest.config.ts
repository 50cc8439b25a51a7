import { defineConfig } from 'vitest/config';

const sources = ['packages/*/src/**', 'services/*/src/**', 'tests/src/**', 'web/src/**'];
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
      {
        test: {
          name: 'k8s',
          include: sources.map((glob) => `${glob}/*.k8s.test.ts`),
          exclude,
          // Builds helm, etcd, kube-apiserver and the Tiltfile lint once per machine, then starts one API server.
          globalSetup: ['tests/src/k8s/global-setup.ts'],
          fileParallelism: false,
          testTimeout: 120_000,
          hookTimeout: 120_000,
          // A group of its own: vitest runs unit, then k8s, then the sequential integration files, never two at once
          // (the API server and the Go builds would compete with real servers for two cores).
          sequence: { groupOrder: 1 },
        },
      },
    ],
  },
});
