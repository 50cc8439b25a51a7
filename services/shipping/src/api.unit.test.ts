import { type OpenApiDocument, routeDrift } from '@jetsaga/platform';
import { describe, expect, it } from 'vitest';
import { shippingApi } from './api.js';
import type { ShipmentRoutesOptions } from './shipments/routes.js';

describe("shipping's OpenAPI document", () => {
  it('lists every route the service answers, and only those', async () => {
    // The routes only touch their dependencies when a request comes: none comes here.
    const app = shippingApi({ deadlineMs: 1000 } as ShipmentRoutesOptions);
    const document = (await (await app.request('/openapi.json')).json()) as OpenApiDocument;
    expect(document.openapi).toBe('3.1.0');
    expect(Object.keys(document.paths).sort()).toEqual([
      '/api/shipments',
      '/api/shipments/{id}',
      '/api/shipments/{id}/deliver',
      '/api/shipments/{id}/dispatch',
      '/api/shipments/{id}/incidents',
      '/api/shipments/{id}/incidents/{incidentId}/resolve',
    ]);
    expect(routeDrift(app, document)).toEqual({ undocumented: [], unrouted: [] });
  });
});
