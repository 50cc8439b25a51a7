// The map lives in @jetsaga/events, beside the catalogue: the NATS permissions are derived from it too.
export { AGGREGATE_OWNERS, OPEN_AGGREGATE_TYPES, serviceOf } from '@jetsaga/events';
