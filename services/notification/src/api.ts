import { serviceApi } from '@jetsaga/platform';
import type { Hono } from 'hono';
import { notificationRoutes } from './notifications/routes.js';
import { type AlertWebhookOptions, alertWebhook } from './alerts/webhook.js';

/** Notification's HTTP API (its routes and their OpenAPI document at /openapi.json) and Alertmanager's webhook. */
export function notificationApi(options: AlertWebhookOptions): Hono {
  const app = serviceApi(
    {
      title: 'jetsaga notification',
      version: '0.1.0',
      description: 'Emails about orders, parcels, complaints and refunds, once each; email preferences; alerts to on-call.',
    },
    [notificationRoutes(options)],
  );
  app.route('/', alertWebhook(options));
  return app;
}
