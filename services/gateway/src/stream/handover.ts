/**
 * The hand-over from a client's own catch-up to the shared live tail, by stream sequence
 * (docs/adr/0054-live-event-stream.md): the client joins the tail first and holds what it delivers, then reads the
 * stream's history from its position until nothing is pending, then sends what it held. The two overlap; the cursor
 * lets each event through once.
 */

/** The stream sequence of the last event a client was sent (or resumes after); undefined: none yet. */
export class Cursor {
  constructor(private position: number | undefined) {}

  get last(): number | undefined {
    return this.position;
  }

  /** Whether the event at `seq` is new to the client; if it is, it is the last one now. */
  take(seq: number): boolean {
    if (this.position !== undefined && seq <= this.position) return false;
    this.position = seq;
    return true;
  }
}

/**
 * Live events held for one client while it catches up, up to a byte bound: past it they are all let go (the client
 * leaves the tail and catches up further from its own consumer), so a client that reads history slowly holds no
 * more than the bound, whatever the rate of new events.
 */
export class Backlog<E extends { seq: number; frame: Uint8Array }> {
  private events: E[] = [];
  private bytes = 0;
  private full = false;

  constructor(private readonly maxBytes: number) {}

  /** False once the bound was passed since the last `reset`: nothing held is of use then. */
  get complete(): boolean {
    return !this.full;
  }

  push(event: E): void {
    if (this.full) return;
    this.bytes += event.frame.length;
    if (this.bytes > this.maxBytes) {
      this.events = [];
      this.full = true;
      return;
    }
    this.events.push(event);
  }

  /** The held events, oldest first; the backlog is empty (and complete) again. */
  drain(): E[] {
    const events = this.events;
    this.reset();
    return events;
  }

  reset(): void {
    this.events = [];
    this.bytes = 0;
    this.full = false;
  }
}
