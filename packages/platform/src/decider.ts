/** A pure decider: the rules of one aggregate, with no I/O. */
export type Decider<State, Command, Event> = {
  initialState: State;
  decide(state: State, command: Command): Event[];
  evolve(state: State, event: Event): State;
};

export type Outcome<Event> = { events: Event[]; error?: undefined } | { events?: undefined; error: Error };

/**
 * Given/when/then over a decider: given past events, when a command arrives, then these events (or this error).
 * Tests assert on the outcome; nothing here touches a database or a broker.
 */
export function given<State, Command, Event>(decider: Decider<State, Command, Event>, history: readonly Event[]) {
  const state = history.reduce(decider.evolve, decider.initialState);
  return {
    state,
    when(command: Command): Outcome<Event> {
      try {
        return { events: decider.decide(state, command) };
      } catch (error) {
        return { error: error as Error };
      }
    },
  };
}
