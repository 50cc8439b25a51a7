export { ConfigError, configFields, loadConfig } from './config.js';
export {
  aggregateKey,
  type ConfigDrift,
  type ConsumerOptions,
  type ConsumerSpec,
  consumerConfig,
  consumerDrift,
  DEFAULT_BACKOFF_MS,
  type Delivery,
  EventConsumer,
  ensureConsumer,
  MANAGED_BY_METADATA,
  operatorOwned,
  redriveSpec,
} from './consumer.js';
export {
  buildDeadLetter,
  type DeadLetterFields,
  type DeadLetterInput,
  type DeadLetterMessage,
  type DeadLetterReason,
  DLQ_HEADERS,
  ORIGINAL_NATS_HEADER_PREFIX,
  publishDeadLetter,
  readDeadLetter,
} from './dead-letter.js';
export { createPool, type Db, type Migration, migrate, type Tx, withTransaction } from './db.js';
export { type Decider, given, type Outcome } from './decider.js';
export {
  ConflictError,
  type FieldError,
  ForbiddenError,
  HttpError,
  NotFoundError,
  PermanentError,
  UnprocessableError,
  UpstreamError,
  ValidationError,
} from './errors.js';
export {
  createHttpApp,
  fieldErrors,
  type HttpAppOptions,
  PROBLEM_CONTENT_TYPE,
  problemResponse,
  type RunningServer,
  readJson,
  readQuery,
  requestId,
  startHttpServer,
  uuidParam,
} from './http.js';
export { claimEvent, inboxMigration } from './inbox.js';
export { createLogger, type Logger } from './log.js';
export { processObserved, publishObserved, watchConsumers, watchOutbox } from './messaging-metrics.js';
export {
  counter,
  gauge,
  histogram,
  initMetrics,
  LATENCY_BUCKETS,
  type MetricsRegistry,
  type MetricsServer,
  metricsRegistry,
  observe,
  sharedRead,
  startMetricsServer,
  traceExemplar,
} from './metrics.js';
export { httpMetrics, type HttpMetricsOptions } from './http-metrics.js';
export {
  connectNats,
  ensureStreams,
  ensureTopology,
  isNotFound,
  type NatsConnection,
  type StreamSpec,
  streamDrift,
  streamSpecs,
} from './nats.js';
export {
  enqueue,
  enqueueEvents,
  eventMessage,
  type OutboxMessage,
  OutboxRelay,
  type OutboxRelayOptions,
  outboxMigration,
} from './outbox.js';
export {
  causedBy,
  type ConsumerDefinition,
  decodeEvent,
  type RunningService,
  runService,
  type ServiceDefinition,
  type ServiceDeps,
  watchParent,
  type Worker,
} from './service.js';
export {
  currentTraceId,
  envelopeFacts,
  logFacts,
  MESSAGING,
  messageTypeOf,
  startBatchSpan,
  stopTelemetry,
  subjectTemplate,
  traceBatch,
  type BatchedMessage,
  traceContextOf,
  traceHeadersOf,
  tracer,
  traceProcess,
  traceSend,
  withTraceHeaders,
} from './telemetry.js';
