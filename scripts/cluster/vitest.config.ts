import { fileURLToPath } from 'node:url';
import { BaseSequencer, type TestSpecification } from 'vitest/node';
import { defineConfig } from 'vitest/config';

/**
 * The upgrade first (scripts/cluster/run.mjs installed the previous chart; every later suite runs on the upgraded
 * release), the install checks, the saga and tracing suites next, then what disturbs the release: a rollout under
 * load, pod loss, the backup and restore drill (it destroys and restores the data), and the uninstall last: it
 * removes the release.
 */
const ORDER = ['upgrade', 'install', 'saga', 'tracing', 'rollout', 'pod-loss', 'backup', 'uninstall'];

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
