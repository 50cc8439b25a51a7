import { type ServiceDeps, serviceApi } from '@jetsaga/platform';
import { salesRoutes } from './sales/routes.js';

/** Sales's HTTP API: its routes and their OpenAPI document at /openapi.json. */
export function salesApi(deps: ServiceDeps) {
  return serviceApi({ title: 'jetsaga sales', version: '0.1.0', description: 'Confirmed sales.' }, [salesRoutes(deps)]);
}
