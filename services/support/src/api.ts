import { serviceApi, type ServiceDeps } from '@jetsaga/platform';
import type { ResponseDeadlines } from './complaints/deadlines.js';
import { complaintRoutes } from './complaints/routes.js';

/** Support's HTTP API: the complaint desk, and its OpenAPI document at /openapi.json. */
export function supportApi(deps: ServiceDeps & { deadlines: ResponseDeadlines }) {
  return serviceApi({ title: 'jetsaga support', version: '0.1.0' }, [complaintRoutes(deps)]);
}
