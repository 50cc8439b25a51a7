import { fileURLToPath } from 'node:url';
import { BaseSequencer, type TestSpecification } from 'vitest/node';
import { defineConfig } from 'vitest/config';

/**
 * Install checks first, the saga and tracing suites next, then pod loss (it disturbs the release), and the
 * uninstall last: it removes the release.
 */
const ORDER = ['install', 'saga', 'tracing', 'pod-loss', 'uninstall'];

class ClusterOrder extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const rank = (file: TestSpecification) => ORDER.findIndex((name) => file.moduleId.endsWith(`/${name}.cluster.test.ts`));
    return [...files].sort((a, b) => rank(a) - rank(b));
  }
}

// Only for `npm run test:cluster` (scripts/cluster/run.mjs starts the cluster and passes its addresses); the
// projects of vitest.config.ts never include *.cluster.test.ts.
export default defineConfig({
  root: fileURLToPath(new URL('../..', import.meta.url)),
  test: {
    include: ['tests/src/cluster/*.cluster.test.ts'],
    fileParallelism: false,
    sequence: { sequencer: ClusterOrder },
    testTimeout: 600_000,
    hookTimeout: 600_000,
  },
});
