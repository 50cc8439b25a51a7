/** A value a projection writes to a column. */
export type Value = string | number | boolean | null;
export type Row = Record<string, Value>;

/**
 * What a projection decides for one event, without I/O: on the row with this key, overwrite the `set` columns and
 * add to the `add` columns (which start at 0). The same ops drive the in-memory spec and the SQL writer.
 */
export type RowOp = { table: string; key: Row; set?: Row; add?: Record<string, number> };

export type Delta = { table: string; key: Row; set: Row; add: Record<string, number> };

function keyOf(table: string, key: Row): string {
  return `${table}\u0000${JSON.stringify(Object.entries(key).sort(([a], [b]) => a.localeCompare(b)))}`;
}

/**
 * Folds a batch's ops into one delta per row, in order: a set after an add wins; an add after a set adds to it.
 * Writing the deltas gives the same rows as applying every op one by one.
 */
export function merge(ops: readonly RowOp[]): Delta[] {
  const deltas = new Map<string, Delta>();
  for (const op of ops) {
    const id = keyOf(op.table, op.key);
    let delta = deltas.get(id);
    if (!delta) {
      delta = { table: op.table, key: op.key, set: {}, add: {} };
      deltas.set(id, delta);
    }
    for (const [column, value] of Object.entries(op.set ?? {})) {
      delta.set[column] = value;
      delete delta.add[column];
    }
    for (const [column, amount] of Object.entries(op.add ?? {})) {
      const current = delta.set[column];
      if (column in delta.set) delta.set[column] = (typeof current === 'number' ? current : 0) + amount;
      else delta.add[column] = (delta.add[column] ?? 0) + amount;
    }
  }
  return [...deltas.values()];
}

export type MemoryTables = Map<string, Map<string, Row>>;

/** The reference semantics of ops, used by the projection specs: given these events, expect these rows. */
export function applyInMemory(tables: MemoryTables, ops: readonly RowOp[]): MemoryTables {
  for (const op of ops) {
    const table = tables.get(op.table) ?? new Map<string, Row>();
    tables.set(op.table, table);
    const id = keyOf(op.table, op.key);
    const row: Row = { ...(table.get(id) ?? op.key) };
    for (const [column, value] of Object.entries(op.set ?? {})) row[column] = value;
    for (const [column, amount] of Object.entries(op.add ?? {})) {
      const current = row[column];
      row[column] = (typeof current === 'number' ? current : 0) + amount;
    }
    table.set(id, row);
  }
  return tables;
}

export function rowsOf(tables: MemoryTables, table: string): Row[] {
  return [...(tables.get(table)?.values() ?? [])];
}
