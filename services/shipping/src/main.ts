import { configFields, loadConfig, runService } from '@jetsaga/platform';
import { z } from 'zod';
import { shippingApi } from './api.js';
import { migrations } from './migrations.js';
import { watchShipments } from './shipments/metrics.js';
import { shippingConsumers } from './shipments/reactions.js';

const config = loadConfig(
  z.object({
    /** How long a dispatched parcel has to be delivered before it gets a DELAYED incident by itself. */
    SHIPMENT_DEADLINE_MS: configFields.milliseconds(3 * 24 * 3600 * 1000),
  }),
);

const service = await runService({
  name: 'shipping',
  schema: 'shipping',
  defaultPort: 8086,
  migrations,
  routes: (deps) => shippingApi({ ...deps, deadlineMs: config.SHIPMENT_DEADLINE_MS }),
  consumers: shippingConsumers,
});
watchShipments(service.deps.db);
