import { runService } from '@jetsaga/platform';
import { inventoryApi } from './api.js';
import { migrations } from './migrations.js';
import { inventoryConsumers } from './reservations/reactions.js';
import { reshipmentConsumers } from './reshipments/reactions.js';

await runService({
  name: 'inventory',
  schema: 'inventory',
  defaultPort: 8082,
  migrations,
  routes: inventoryApi,
  consumers: (deps) => [...inventoryConsumers(deps), ...reshipmentConsumers(deps)],
});
