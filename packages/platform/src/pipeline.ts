import { type DomainEvent, type EventDraft, materialize } from '@jetsaga/events';
import { type Context, context } from '@opentelemetry/api';
import type { BatchFailures, BatchItem, ConsumerSpec, Delivery } from './consumer.js';
import { type Db, type Tx, withTransaction } from './db.js';
import { claimEvents, releaseClaims } from './inbox.js';
import { enqueue, eventMessage, type OutboxMessage } from './outbox.js';
import { withTraceHeaders } from './telemetry.js';

/** Time and identity, as plain functions (ServiceDeps carries them). */
export type Ids = { now: () => Date; newId: () => string };

/** Who and what caused the events a command produces; built once per request or causing message. */
export type Metadata = { correlationId: string; causationId: string; actor: string; occurredAt: string };

/** Events caused directly by a request: each request is its own correlation, caused by the request id. */
export function requestMetadata(ids: Ids, requestId: string, actor = 'api'): Metadata {
  return { correlationId: ids.newId(), causationId: requestId, actor, occurredAt: ids.now().toISOString() };
}

/** Events caused by another message: the same saga (correlation), caused by it. */
export function causedBy(cause: { id: string; correlationId: string }, ids: Ids, actor: string): Metadata {
  return { correlationId: cause.correlationId, causationId: cause.id, actor, occurredAt: ids.now().toISOString() };
}

/**
 * The rows of many aggregates in one statement, row-locked in key order (two transactions over the same rows never
 * deadlock), as states by id: what a handler's `load` usually is. `table`, `key` and `columns` are the code's own
 * constants, never input.
 */
export async function lockRows<Row extends Record<string, unknown>, State>(
  tx: Tx,
  from: { table: string; key: string; columns: string },
  ids: readonly string[],
  fromRow: (row: Row) => State,
): Promise<Map<string, State>> {
  const { rows } = await tx.query<Row>(
    `SELECT ${from.columns} FROM ${from.table} WHERE ${from.key} = ANY($1::uuid[]) ORDER BY ${from.key} FOR UPDATE`,
    [ids],
  );
  return new Map(rows.map((row) => [String(row[from.key]), fromRow(row)]));
}

/** A command and the aggregate (event stream) it acts on. */
export type Addressed<Command> = { id: string; command: Command };

/** An aggregate the commands of one call changed: its state after them, and the events they produced. */
export type Change<State> = { id: string; state: State; existed: boolean; events: DomainEvent[] };

/**
 * One slice's command side, declared: how its aggregates are loaded and saved (many at once), and its pure rules.
 * The pipeline does the rest in the caller's transaction: loads, decides and evolves in order, saves every change,
 * and writes the events (with metadata built once) and any other messages to the outbox in one insert.
 */
export type CommandHandler<State, Command, Event extends EventDraft, Shared = undefined> = {
  initialState: State;
  /** The aggregates with these ids, row-locked (`= ANY($1) ... FOR UPDATE`); ids not found are left out. */
  load(tx: Tx, ids: readonly string[]): Promise<ReadonlyMap<string, State>>;
  /** Pure: the events a command produces in this state (a throw refuses the command). */
  decide(state: State, command: Command, shared: Shared): Event[];
  evolve(state: State, event: Event): State;
  /** Writes every changed aggregate (set-based where the table allows); `shared` is the state after all commands. */
  save(tx: Tx, changes: readonly Change<State>[], shared: Shared): Promise<void>;
  /**
   * State beyond the aggregate that the rules read and the events move (stock levels, balances): loaded row-locked
   * once for all the commands, and evolved by each command's events, so the next command sees them.
   */
  shared?: {
    load(tx: Tx, commands: ReadonlyArray<{ command: Command; state: State }>): Promise<Shared>;
    evolve(shared: Shared, event: Event): Shared;
  };
  /**
   * The out-of-order rule, in one place: a command that undoes what has not arrived yet (a cancellation handled before
   * the order it cancels, after a delayed redelivery) leaves this tombstone instead of deciding anything, so that the
   * late arrival meets a state that is no longer initial and is refused by `decide`.
   */
  tombstone?: { cancels(command: Command): boolean; state(id: string): State };
  /** Messages other than the events (a timer, a timer's cancellation) that one decided command sends. */
  messages?(decided: { id: string; state: State; events: DomainEvent[]; meta: Metadata }, newId: () => string): OutboxMessage[];
};

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- a handler is used with whatever types it declares
type AnyHandler<State, Command> = CommandHandler<State, Command, any, any>;

export type CommandItem<State, Command> = Addressed<Command> & {
  /** The metadata, or how it follows from the loaded state (the actor of a checkout is the cart's customer). */
  meta: Metadata | ((state: State) => Metadata);
  /** The trace its messages continue (a consumed message's span); the active one by default. */
  trace?: Context;
};

/** A command applied: the aggregate's state after it and the events it produced (none when it changed nothing). */
export type Applied<State> = { state: State; events: DomainEvent[]; error?: undefined };

export type Decided<State> = Applied<State> | { error: unknown };

/**
 * The pure step of the pipeline: one command against a state (and the shared state), with the tombstone rule.
 * Returns the next state, the drafts and the shared state after them; `tombstoned` when the rule applied.
 */
export function decideCommand<State, Command, Event extends EventDraft, Shared>(
  handler: CommandHandler<State, Command, Event, Shared>,
  id: string,
  state: State,
  command: Command,
  shared: Shared,
): { state: State; drafts: Event[]; shared: Shared; tombstoned: boolean } {
  if (state === handler.initialState && handler.tombstone?.cancels(command)) {
    return { state: handler.tombstone.state(id), drafts: [], shared, tombstoned: true };
  }
  const drafts = handler.decide(state, command, shared);
  const evolve = handler.shared?.evolve;
  return {
    state: drafts.reduce(handler.evolve, state),
    drafts,
    shared: evolve ? drafts.reduce(evolve, shared) : shared,
    tombstoned: false,
  };
}

/**
 * Applies commands in order inside the caller's transaction: one load of all their aggregates, the rules in memory
 * (a later command on the same aggregate sees the earlier one's result), one save, one outbox insert. A command its
 * rules refuse (a throw) changes nothing and is reported in its place; the others still apply.
 */
export async function applyCommands<State, Command>(
  tx: Tx,
  handler: AnyHandler<State, Command>,
  items: ReadonlyArray<CommandItem<State, Command>>,
  ids: Pick<Ids, 'newId'>,
): Promise<Decided<State>[]> {
  if (items.length === 0) return [];
  const loaded = await handler.load(tx, [...new Set(items.map((item) => item.id))]);
  const states = new Map(loaded);
  const stateOf = (id: string) => states.get(id) ?? handler.initialState;
  let shared = handler.shared
    ? await handler.shared.load(
        tx,
        items.map((item) => ({ command: item.command, state: stateOf(item.id) })),
      )
    : undefined;
  const changes = new Map<string, Change<State>>();
  const messages: OutboxMessage[] = [];
  const results = items.map((item): Decided<State> => {
    try {
      const before = stateOf(item.id);
      const next = decideCommand(handler, item.id, before, item.command, shared);
      if (next.drafts.length === 0 && !next.tombstoned) return { state: before, events: [] };
      const meta = typeof item.meta === 'function' ? item.meta(before) : item.meta;
      const events = materialize(next.drafts, item.id, { ...meta, newId: ids.newId });
      states.set(item.id, next.state);
      shared = next.shared;
      const change = changes.get(item.id) ?? { id: item.id, state: next.state, existed: loaded.has(item.id), events: [] };
      change.state = next.state;
      change.events.push(...events);
      changes.set(item.id, change);
      const trace = item.trace ?? context.active();
      const sent = [
        ...events.map(eventMessage),
        ...(handler.messages?.({ id: item.id, state: next.state, events, meta }, ids.newId) ?? []),
      ];
      for (const message of sent) messages.push({ ...message, headers: withTraceHeaders(message.headers, trace) });
      return { state: next.state, events };
    } catch (error) {
      return { error };
    }
  });
  if (changes.size > 0) await handler.save(tx, [...changes.values()], shared);
  await enqueue(tx, messages);
  return results;
}

/** One command in the caller's transaction (with others: a checkout changes a cart and places an order). */
export async function runCommand<State, Command>(
  tx: Tx,
  handler: AnyHandler<State, Command>,
  item: CommandItem<State, Command>,
  ids: Pick<Ids, 'newId'>,
): Promise<{ state: State; events: DomainEvent[] }> {
  const [result] = await applyCommands(tx, handler, [item], ids);
  if (!result) throw new Error('unreachable: one command, one result');
  if ('error' in result && result.error !== undefined) throw result.error;
  return result as Applied<State>;
}

/** One command in a transaction of its own: what an HTTP route does. */
export function handleCommand<State, Command>(
  db: Db,
  handler: AnyHandler<State, Command>,
  item: CommandItem<State, Command>,
  ids: Pick<Ids, 'newId'>,
): Promise<{ state: State; events: DomainEvent[] }> {
  return withTransaction(db, (tx) => runCommand(tx, handler, item, ids));
}

/**
 * A reaction: a consumed message becomes a command of this service (a pure function), applied by the pipeline to a
 * whole batch in one transaction with one inbox claim.
 */
export type Reaction<Message, State, Command> = {
  spec: ConsumerSpec;
  /** Bytes to message (default: a domain event); a throw makes it poison. */
  decode?: (data: Uint8Array, delivery: Delivery) => Message;
  /** The inbox key (default: a domain event's id and type). */
  identify?: (message: Message) => { id: string; type: string };
  /** Pure: the command a message is, addressed to its aggregate; undefined when it asks nothing of this service. */
  react(message: Message): Addressed<Command> | undefined;
  /** The metadata of what it causes (default: caused by the event, as `actor`). */
  metadata?: (message: Message, ids: Ids) => Metadata;
  actor: string;
  handler: AnyHandler<State, Command>;
  /** After the batch committed, with what it changed (metrics of sagas that ended, say). */
  committed?: (applied: ReadonlyArray<Applied<State>>, ids: Ids) => void;
};

/** The consumers of a service's reactions (its `consumers` in runService). */
export function reactionConsumers(
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- each reaction declares its own message, state and command
  ...reactions: Reaction<any, any, any>[]
): (deps: Ids & { db: Db }) => ReturnType<typeof reactor>[] {
  return (deps) => reactions.map((reaction) => reactor(deps, reaction));
}

type EventLike = { id: string; type: string; correlationId: string };

/** The consumer a reaction runs as: a batch handler that claims, decides, saves and enqueues in one transaction. */
export function reactor<Message, State, Command>(
  deps: Ids & { db: Db },
  reaction: Reaction<Message, State, Command>,
): {
  spec: ConsumerSpec;
  decode?: (data: Uint8Array, delivery: Delivery) => Message;
  handleBatch: (items: readonly BatchItem<Message>[]) => Promise<BatchFailures>;
} {
  const durable = reaction.spec.durable;
  const identify = reaction.identify ?? ((message: Message) => message as unknown as EventLike);
  const metadata = reaction.metadata ?? ((message: Message, ids: Ids) => causedBy(message as unknown as EventLike, ids, reaction.actor));
  return {
    spec: reaction.spec,
    ...(reaction.decode ? { decode: reaction.decode } : {}),
    handleBatch: async (items) => {
      const failures = new Map<number, unknown>();
      const wanted: Array<{
        index: number;
        key: { id: string; type: string };
        addressed: Addressed<Command>;
        trace: Context;
        message: Message;
      }> = [];
      for (const [index, item] of items.entries()) {
        try {
          const addressed = reaction.react(item.message);
          if (addressed) wanted.push({ index, key: identify(item.message), addressed, trace: item.trace, message: item.message });
        } catch (error) {
          failures.set(index, error);
        }
      }
      if (wanted.length === 0) return failures;
      const done = await withTransaction(deps.db, async (tx) => {
        const claimed = await claimEvents(
          tx,
          durable,
          wanted.map((want) => want.key),
        );
        // A copy of an event already applied (earlier, or earlier in this batch) is acknowledged and changes nothing.
        const fresh = wanted.filter((want) => claimed.delete(want.key.id));
        const results = await applyCommands(
          tx,
          reaction.handler,
          fresh.map((want) => ({ ...want.addressed, meta: metadata(want.message, deps), trace: want.trace })),
          deps,
        );
        const refused = fresh.filter((_, position) => results[position]?.error !== undefined);
        await releaseClaims(
          tx,
          durable,
          refused.map((want) => want.key.id),
        );
        for (const want of refused) failures.set(want.index, (results[fresh.indexOf(want)] as { error: unknown }).error);
        return results.filter((result): result is Applied<State> => result.error === undefined);
      });
      reaction.committed?.(done, deps);
      return failures;
    },
  };
}

export type ReactionOutcome<State, Event> =
  | { ignored: true; error?: undefined }
  | { ignored?: false; error?: undefined; id: string; events: Event[]; state: State; tombstoned: boolean }
  | { ignored?: false; error: Error };

/**
 * Given/when/then over a reaction, with no I/O: given the aggregate's past events (or a state: a tombstone has no
 * event), and the shared state its rules read, when this message arrives, then these events, a tombstone, nothing
 * (`ignored`), or this error.
 */
export function givenReaction<Message, State, Command, Event extends EventDraft, Shared>(
  reaction: Pick<Reaction<Message, State, Command>, 'react'> & { handler: CommandHandler<State, Command, Event, Shared> },
  given: { events?: readonly Event[]; state?: State; shared?: Shared } = {},
) {
  const { handler } = reaction;
  const state = (given.events ?? []).reduce(handler.evolve, given.state ?? handler.initialState);
  return {
    state,
    when(message: Message): ReactionOutcome<State, Event> {
      try {
        const addressed = reaction.react(message);
        if (!addressed) return { ignored: true };
        const next = decideCommand(handler, addressed.id, state, addressed.command, given.shared as Shared);
        return { id: addressed.id, events: next.drafts, state: next.state, tombstoned: next.tombstoned };
      } catch (error) {
        return { error: error as Error };
      }
    },
  };
}
