import { type ServiceDeps, serviceApi } from '@jetsaga/platform';
import { customerRoutes } from './customers/routes.js';

/** Payment's HTTP API: its routes and their OpenAPI document at /openapi.json. */
export function paymentApi(deps: ServiceDeps) {
  return serviceApi({ title: 'jetsaga payment', version: '0.1.0', description: 'Customers, their balances and payments.' }, [
    customerRoutes(deps),
  ]);
}
