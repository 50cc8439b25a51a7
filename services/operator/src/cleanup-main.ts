import { configFields, createLogger, loadConfig } from '@jetsaga/platform';
import { z } from 'zod';
import { deleteCustomResources } from './cleanup.js';
import { defaultKubeConfig } from './kube.js';

/** The chart's pre-delete hook: `node services/operator/dist/cleanup-main.js` (see charts/operator/templates). */
const config = loadConfig(
  z.object({
    WATCH_NAMESPACE: z.string().min(1).default('default'),
    CLEANUP_TIMEOUT_SECONDS: z.coerce.number().positive().default(240),
    LOG_LEVEL: configFields.logLevel(),
  }),
);
const log = createLogger('operator-cleanup', config.LOG_LEVEL);
try {
  const report = await deleteCustomResources({
    kubeConfig: defaultKubeConfig(),
    namespace: config.WATCH_NAMESPACE,
    timeoutMs: config.CLEANUP_TIMEOUT_SECONDS * 1000,
    log: (message) => log.info(message),
  });
  log.info({ ...report, namespace: config.WATCH_NAMESPACE }, 'custom resources deleted, finalizers done');
  process.exit(0);
} catch (error) {
  log.error({ err: error }, 'cleanup failed');
  process.exit(1);
}
