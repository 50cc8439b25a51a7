import { type ServiceDeps, serviceApi } from '@jetsaga/platform';
import { productRoutes } from './products/routes.js';

/** Inventory's HTTP API: its routes and their OpenAPI document at /openapi.json. */
export function inventoryApi(deps: ServiceDeps) {
  return serviceApi({ title: 'jetsaga inventory', version: '0.1.0', description: 'Products and their stock.' }, [productRoutes(deps)]);
}
