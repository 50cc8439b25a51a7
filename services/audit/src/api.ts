import { serviceApi } from '@jetsaga/platform';
import { type ChainRoutesOptions, chainRoutes } from './chain/routes.js';
import { complianceRoutes } from './compliance/routes.js';
import { entryRoutes } from './entries/routes.js';

/** The audit trail's HTTP API: its routes and their OpenAPI document at /openapi.json. */
export function auditApi(options: ChainRoutesOptions) {
  return serviceApi(
    {
      title: 'jetsaga audit',
      version: '0.1.0',
      description: 'The tamper-evident audit trail: every event once, hash-chained, with signed checkpoints and compliance tags.',
    },
    [entryRoutes(options), complianceRoutes(options), chainRoutes(options)],
  );
}
