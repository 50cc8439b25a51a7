import type pg from 'pg';

/** The protocol calls of pg's connection that COPY FROM STDIN needs (pg exposes them; its typings do not). */
type CopyConnection = {
  query(text: string): void;
  sendCopyFromChunk(chunk: Buffer): void;
  endCopyFrom(): void;
};

const CHUNK = 1 << 20;

/**
 * `COPY ... FROM STDIN` with the whole input already in hand, as a pg Submittable: what pg-copy-streams does, without
 * a dependency and without streams. Postgres parses COPY's text format far faster than the rows of an INSERT, and
 * writes the rows in multi-row heap inserts. Resolves with the number of rows copied.
 */
export function copyFrom(client: pg.PoolClient, text: string, data: Buffer): Promise<number> {
  return new Promise((resolve, reject) => {
    let rows = 0;
    let failed: Error | undefined;
    const submittable = {
      submit(connection: CopyConnection) {
        connection.query(text);
      },
      handleCopyInResponse(connection: CopyConnection) {
        for (let start = 0; start < data.length; start += CHUNK) connection.sendCopyFromChunk(data.subarray(start, start + CHUNK));
        connection.endCopyFrom();
      },
      handleCommandComplete(message: { text: string }) {
        rows = Number(message.text.split(' ')[1] ?? 0);
      },
      handleError(error: Error) {
        failed = error;
        reject(error);
      },
      handleReadyForQuery() {
        if (!failed) resolve(rows);
      },
      handleRowDescription() {},
      handleDataRow() {},
      handleEmptyQuery() {},
      handlePortalSuspended() {},
      handleCopyData() {},
    };
    client.query(submittable as unknown as pg.Submittable);
  });
}

/** A value in COPY's text format: NULL is \N; backslash, tab, newline and carriage return are escaped. */
export function copyText(value: string | number | boolean | null | undefined): string {
  if (value === null || value === undefined) return '\\N';
  if (typeof value === 'boolean') return value ? 't' : 'f';
  if (typeof value === 'number') return String(value);
  return /[\\\t\n\r]/.test(value) ? value.replace(/[\\\t\n\r]/g, (c) => ESCAPES[c] as string) : value;
}

const ESCAPES: Record<string, string> = { '\\': '\\\\', '\t': '\\t', '\n': '\\n', '\r': '\\r' };
