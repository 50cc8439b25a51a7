import { loadConfig, runService } from '@jetsaga/platform';
import { deadlineConfig, responseDeadlines } from './complaints/deadlines.js';
import { supportApi } from './api.js';
import { supportConsumersWith } from './consumers.js';
import { watchDesk } from './metrics.js';
import { migrations } from './migrations.js';

const deadlines = responseDeadlines(loadConfig(deadlineConfig));

const service = await runService({
  name: 'support',
  schema: 'support',
  defaultPort: 8087,
  migrations,
  routes: (deps) => supportApi({ ...deps, deadlines }),
  consumers: supportConsumersWith(deadlines),
});
watchDesk(service.deps.db);
