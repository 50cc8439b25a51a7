import { runService } from '@jetsaga/platform';
import { migrations } from './migrations.js';
import { productRoutes } from './products/routes.js';
import { inventoryConsumers } from './reservations/reactions.js';

await runService({
  name: 'inventory',
  schema: 'inventory',
  defaultPort: 8082,
  migrations,
  routes: productRoutes,
  consumers: inventoryConsumers,
});
