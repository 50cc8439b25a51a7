import { type OpenApiDocument, routeDrift, type ServiceDeps } from '@jetsaga/platform';
import { describe, expect, it } from 'vitest';
import { eventStoreApi } from './api.js';
import type { Mirror } from './mirror/mirror.js';
import type { ProjectionEngine } from './projections/engine.js';

describe("the event store's OpenAPI document", () => {
  it('lists every route the service answers, and only those', async () => {
    // The routes only touch their dependencies when a request comes: none comes here.
    const app = eventStoreApi({} as ServiceDeps, { mirror: {} as Mirror, engine: {} as ProjectionEngine });
    const document = (await (await app.request('/openapi.json')).json()) as OpenApiDocument;
    expect(document.openapi).toBe('3.1.0');
    expect(Object.keys(document.paths).length).toBeGreaterThan(0);
    expect(routeDrift(app, document)).toEqual({ undocumented: [], unrouted: [] });
  });
});
