export { type ConditionUpdate, readyCondition, setCondition } from './conditions.js';
export {
  API_VERSION,
  CONDITION_READY,
  DEAD_LETTER_METADATA,
  FIELD_MANAGER,
  FINALIZER,
  GROUP,
  type KindName,
  KINDS,
  LEASE_NAME,
  type Reason,
  REASONS,
  VERSION,
} from './constants.js';
export {
  consumerDifferences,
  type DesiredConsumer,
  type DesiredStream,
  desiredConsumerConfig,
  desiredStreamConfig,
  type Difference,
  streamDifferences,
} from './desired.js';
export { InvalidDurationError, parseDuration } from './durations.js';
export { deleteConsumer, deleteStream, reconcileConsumer, reconcileStream, type StepOutcome } from './jetstream.js';
export { CRD_DIGEST_ANNOTATION, type CrdManifest, readCrdManifests, upgradeCrds } from './crds.js';
export { kubeConfigFor } from './kube.js';
export { type EventStoreClient, EventStoreError, httpEventStore, type ProjectionReport, reconcileProjection } from './projection.js';
export { type OperatorOptions, type RunningOperator, startOperator } from './operator.js';
export {
  type Condition,
  type EventConsumer,
  type EventConsumerSpec,
  eventConsumerSpec,
  type EventStream,
  type EventStreamSpec,
  eventStreamSpec,
  InvalidSpecError,
  type Projection,
  type ProjectionSpec,
  parseSpec,
  projectionSpec,
} from './resources.js';
export {
  type AppliedResource,
  applyTopology,
  applyTopologyFrom,
  loadTopology,
  parseTopology,
  type Topology,
  TopologyError,
} from './topology.js';
