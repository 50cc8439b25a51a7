/**
 * Preload for `node --import @jetsaga/platform/register <service>/dist/main.js`: starts the OpenTelemetry SDK before
 * the service's own modules load, which is what lets it instrument them. ES modules are only instrumented through a
 * loader hook, registered here first; the SDK and instrumentations are imported after it (dynamically, since static
 * imports would load before the hook exists).
 *
 * Configuration is the standard `OTEL_*` environment. Tracing is on when an OTLP endpoint is set
 * (`OTEL_EXPORTER_OTLP_ENDPOINT` or `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`) or an exporter is chosen explicitly
 * (`OTEL_TRACES_EXPORTER`), and off otherwise, or with `OTEL_SDK_DISABLED=true`: then nothing is loaded at all.
 */
import { register } from 'node:module';
import { tracingConfigured } from './telemetry-sdk-config.js';

if (tracingConfigured(process.env)) {
  const { createAddHookMessageChannel } = await import('import-in-the-middle');
  const { registerOptions, waitForAllMessagesAcknowledged } = createAddHookMessageChannel();
  register('import-in-the-middle/hook.mjs', import.meta.url, registerOptions);
  const { startTelemetry } = await import('./telemetry-sdk.js');
  startTelemetry(process.env);
  await waitForAllMessagesAcknowledged();
}
