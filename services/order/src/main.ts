import { configFields, loadConfig, runService } from '@jetsaga/platform';
import { z } from 'zod';
import { orderApi } from './api.js';
import { catalogConsumers } from './catalog/consumer.js';
import { fulfilmentConsumers } from './fulfilment/consumer.js';
import { httpLookups, localLookups } from './lookups.js';
import { migrations } from './migrations.js';
import { watchSagas } from './orders/metrics.js';
import { orderConsumers } from './orders/reactions.js';

const config = loadConfig(
  z.object({
    INVENTORY_URL: z.url().default('http://127.0.0.1:8082'),
    PAYMENT_URL: z.url().default('http://127.0.0.1:8083'),
    SAGA_DEADLINE_MS: configFields.milliseconds(30_000),
  }),
);

const service = await runService({
  name: 'order',
  schema: 'orders',
  defaultPort: 8081,
  migrations,
  routes: (deps) => {
    // The read model answers; inventory and payment only for ids it has not seen yet (ADR 0039).
    const lookups = localLookups(deps.db, httpLookups({ inventory: config.INVENTORY_URL, payment: config.PAYMENT_URL }));
    return orderApi(deps, { lookups, deadlineMs: config.SAGA_DEADLINE_MS });
  },
  consumers: (deps) => [...orderConsumers(deps), ...catalogConsumers(deps), ...fulfilmentConsumers(deps)],
});
watchSagas(service.deps.db);
