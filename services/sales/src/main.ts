import { runService } from '@jetsaga/platform';
import { salesApi } from './api.js';
import { migrations } from './migrations.js';
import { salesConsumers } from './sales/reactions.js';

await runService({
  name: 'sales',
  schema: 'sales',
  defaultPort: 8084,
  migrations,
  routes: salesApi,
  consumers: salesConsumers,
});
