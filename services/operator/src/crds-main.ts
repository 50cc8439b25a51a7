import { configFields, createLogger, loadConfig } from '@jetsaga/platform';
import { z } from 'zod';
import { readCrdManifests, upgradeCrds } from './crds.js';
import { defaultKubeConfig } from './kube.js';

/** The chart's pre-install/pre-upgrade hook: `node services/operator/dist/crds-main.js` (see charts/operator/templates). */
const config = loadConfig(
  z.object({
    CRD_DIR: z.string().min(1).default('/etc/jetsaga/crds'),
    LOG_LEVEL: configFields.logLevel(),
  }),
);
const log = createLogger('operator-crds', config.LOG_LEVEL);
try {
  const report = await upgradeCrds({
    kubeConfig: defaultKubeConfig(),
    manifests: await readCrdManifests(config.CRD_DIR),
    log: (message) => log.info(message),
  });
  log.info(report, 'custom resource definitions up to date');
  process.exit(0);
} catch (error) {
  log.error({ err: error }, 'CRD upgrade failed');
  process.exit(1);
}
