import { CONDITION_READY, type Reason } from './constants.js';
import type { Condition } from './resources.js';

export type ConditionUpdate = { status: Condition['status']; reason: Reason; message: string };

/**
 * The one way conditions change: a condition keeps its lastTransitionTime while its status stays the same, so
 * `kubectl wait` and dashboards see real transitions, not every pass.
 */
export function setCondition(
  conditions: readonly Condition[] | undefined,
  type: string,
  update: ConditionUpdate,
  generation: number,
  now: Date,
): Condition[] {
  const previous = conditions?.find((condition) => condition.type === type);
  const next: Condition = {
    type,
    status: update.status,
    reason: update.reason,
    message: update.message,
    observedGeneration: generation,
    lastTransitionTime: previous && previous.status === update.status ? previous.lastTransitionTime : now.toISOString(),
  };
  return [...(conditions ?? []).filter((condition) => condition.type !== type), next].sort((a, b) => a.type.localeCompare(b.type));
}

export function readyCondition(conditions: readonly Condition[] | undefined): Condition | undefined {
  return conditions?.find((condition) => condition.type === CONDITION_READY);
}
