import { type ConsumerDefinition, type Db, type Ids, reactionConsumers } from '@jetsaga/platform';
import { DEFAULT_RESPONSE_DEADLINES, type ResponseDeadlines } from './complaints/deadlines.js';
import { deadlineReaction, incidentReaction } from './complaints/reactions.js';
import { incidentRefundReaction, refundOutcomeConsumer } from './refunds/reactions.js';

/** Support's consumers (k8s/topology declares the same): incidents open complaints and refunds, deadlines escalate. */
export function supportConsumersWith(deadlines: ResponseDeadlines) {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- each consumer decodes its own message type
  return (deps: Ids & { db: Db }): ConsumerDefinition<any>[] => [
    ...reactionConsumers(incidentReaction(deadlines), deadlineReaction, incidentRefundReaction)(deps),
    refundOutcomeConsumer(deps),
  ];
}

export const supportConsumers = supportConsumersWith(DEFAULT_RESPONSE_DEADLINES);
