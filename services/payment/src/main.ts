import { runService } from '@jetsaga/platform';
import { paymentApi } from './api.js';
import { migrations } from './migrations.js';
import { paymentConsumers } from './payments/reactions.js';

await runService({
  name: 'payment',
  schema: 'payment',
  defaultPort: 8083,
  migrations,
  routes: paymentApi,
  consumers: paymentConsumers,
});
