import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { type JetStreamManager, jetstreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/nats-core';
import { parseAllDocuments } from 'yaml';
import { API_VERSION, KINDS } from './constants.js';
import { reconcileConsumer, reconcileStream, type StepOutcome } from './jetstream.js';
import {
  type EventConsumer,
  type EventConsumerSpec,
  eventConsumerSpec,
  type EventStream,
  type EventStreamSpec,
  eventStreamSpec,
  parseSpec,
  type Projection,
} from './resources.js';

/**
 * k8s/topology/*.yaml without a cluster: `npm start` reads the same custom resources the operator reconciles in
 * Kubernetes and drives them through the same reconcile steps, so local runs and clusters share one topology.
 */
export type Topology = { streams: EventStream[]; consumers: EventConsumer[]; projections: Projection[] };

export class TopologyError extends Error {
  override readonly name = 'TopologyError';
}

export function parseTopology(text: string, source = 'topology'): Topology {
  const topology: Topology = { streams: [], consumers: [], projections: [] };
  for (const document of parseAllDocuments(text)) {
    if (document.errors.length > 0) throw new TopologyError(`${source}: ${document.errors[0]?.message}`);
    const object = document.toJS() as { apiVersion?: string; kind?: string; metadata?: { name?: string } } | null;
    if (!object) continue;
    const where = `${source}: ${object.kind ?? '?'} ${object.metadata?.name ?? '?'}`;
    if (object.apiVersion !== API_VERSION) throw new TopologyError(`${where}: apiVersion must be ${API_VERSION}`);
    if (!object.metadata?.name) throw new TopologyError(`${where}: metadata.name is required`);
    switch (object.kind) {
      case KINDS.EventStream.kind:
        topology.streams.push(object as EventStream);
        break;
      case KINDS.EventConsumer.kind:
        topology.consumers.push(object as EventConsumer);
        break;
      case KINDS.Projection.kind:
        topology.projections.push(object as Projection);
        break;
      default:
        throw new TopologyError(`${where}: unknown kind`);
    }
  }
  return topology;
}

export async function loadTopology(dir: string): Promise<Topology> {
  const files = (await readdir(dir)).filter((file) => /\.ya?ml$/.test(file)).sort();
  const all: Topology = { streams: [], consumers: [], projections: [] };
  for (const file of files) {
    const part = parseTopology(await readFile(join(dir, file), 'utf8'), file);
    all.streams.push(...part.streams);
    all.consumers.push(...part.consumers);
    all.projections.push(...part.projections);
  }
  return all;
}

export type AppliedResource = { kind: string; name: string; passes: number; outcome: StepOutcome<unknown> };

/**
 * Runs each stream, then each consumer, through reconcile steps until it is in sync. A step changes at most one
 * thing, so a handful of passes is always enough; more means something refuses the spec, which is an error here
 * because nothing would retry it later.
 */
export async function applyTopology(jsm: JetStreamManager, topology: Topology, maxPasses = 5): Promise<AppliedResource[]> {
  const applied: AppliedResource[] = [];
  const drive = async <S>(kind: string, name: string, spec: S, step: (spec: S) => Promise<StepOutcome<unknown>>) => {
    let last: StepOutcome<unknown> | undefined;
    for (let pass = 1; pass <= maxPasses; pass++) {
      const outcome = await step(spec);
      last = outcome;
      if (outcome.action === 'none' && outcome.condition.status === 'True') {
        applied.push({ kind, name, passes: pass, outcome });
        return;
      }
      if (outcome.action === 'blocked')
        throw new TopologyError(`${kind} ${name}: ${outcome.condition.reason}: ${outcome.condition.message}`);
    }
    throw new TopologyError(`${kind} ${name} is not in sync after ${maxPasses} passes (last: ${last?.condition.message})`);
  };
  for (const stream of topology.streams) {
    const spec: EventStreamSpec = parseSpec(eventStreamSpec, stream.spec);
    await drive(stream.kind, stream.metadata.name, spec, (s) => reconcileStream(jsm, s));
  }
  for (const consumer of topology.consumers) {
    const spec: EventConsumerSpec = parseSpec(eventConsumerSpec, consumer.spec);
    await drive(consumer.kind, consumer.metadata.name, spec, (s) => reconcileConsumer(jsm, s));
  }
  return applied;
}

/** `npm start`: k8s/topology (or another directory of the same resources) applied to the NATS behind `nc`. */
export async function applyTopologyFrom(nc: NatsConnection, dir: string): Promise<AppliedResource[]> {
  return applyTopology(await jetstreamManager(nc), await loadTopology(dir));
}
