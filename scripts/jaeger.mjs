#!/usr/bin/env node
// `npm run jaeger`: a local trace backend for `npm start`. Builds Jaeger v2 once (cached), runs it in memory on the
// usual ports, and prints how to point the services at it. Ctrl-C stops it.
import { homedir } from 'node:os';
import { join } from 'node:path';
import { ensureJaeger, startJaeger } from '../packages/devstack/dist/index.js';

const say = (message) => console.log(`[jaeger] ${message}`);
const dir = join(process.env.JETSAGA_DATA_DIR ?? join(homedir(), '.local', 'state', 'jetsaga'), 'jaeger');
const jaeger = await startJaeger({
  bin: await ensureJaeger(say),
  dir,
  ports: { otlpHttp: 4318, otlpGrpc: 4317, query: 16686, queryGrpc: 16685 },
});
say(`receiving OTLP at ${jaeger.otlpHttpUrl}; UI and API at ${jaeger.queryUrl}`);
say(`in another terminal: OTEL_EXPORTER_OTLP_ENDPOINT=${jaeger.otlpHttpUrl} npm start`);
say('then GET /api/orders/<id> gives traceId: open ' + `${jaeger.queryUrl}/trace/<traceId>`);
const stop = () => void jaeger.stop().then(() => process.exit(0));
process.once('SIGINT', stop);
process.once('SIGTERM', stop);
