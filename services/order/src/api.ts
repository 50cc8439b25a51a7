import { type ServiceDeps, serviceApi } from '@jetsaga/platform';
import { cartRoutes } from './carts/routes.js';
import type { Lookups } from './lookups.js';
import { orderRoutes } from './orders/routes.js';

/** Order's HTTP API: carts, checkout and orders, and their OpenAPI document at /openapi.json. */
export function orderApi(deps: ServiceDeps, options: { lookups: Lookups; deadlineMs: number }) {
  return serviceApi({ title: 'jetsaga order', version: '0.1.0', description: 'Carts, checkout and orders.' }, [
    cartRoutes({ ...deps, ...options }),
    orderRoutes(deps),
  ]);
}
