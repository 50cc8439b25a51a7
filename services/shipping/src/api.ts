import { serviceApi } from '@jetsaga/platform';
import { type ShipmentRoutesOptions, shipmentRoutes } from './shipments/routes.js';

/** Shipping's HTTP API: its routes and their OpenAPI document at /openapi.json. */
export function shippingApi(options: ShipmentRoutesOptions) {
  return serviceApi(
    {
      title: 'jetsaga shipping',
      version: '0.1.0',
      description: 'Parcels after the sale: dispatch, delivery, incidents and their settlement.',
    },
    [shipmentRoutes(options)],
  );
}
