import { runService } from '@jetsaga/platform';
import { migrations } from './migrations.js';
import { salesConsumers } from './sales/reactions.js';
import { salesRoutes } from './sales/routes.js';

await runService({
  name: 'sales',
  schema: 'sales',
  defaultPort: 8084,
  migrations,
  routes: salesRoutes,
  consumers: salesConsumers,
});
