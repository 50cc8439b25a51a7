import type { Tx } from '@jetsaga/platform';
import type { PositionedEvent } from './current.js';
import type { ProjectionDefinition } from './definitions.js';
import { type Delta, merge } from './ops.js';

/** Physical table of a projection version: built beside the live one during a rebuild. */
export function tableName(definition: ProjectionDefinition, table: string, version: number): string {
  return `p_${definition.name.replace(/-/g, '_')}_${table}_v${version}`;
}

/** What a run of events (in position order) does to a projection: the ops of every event folded into one delta per row. */
export function deltasOf(definition: ProjectionDefinition, events: readonly PositionedEvent[]): Delta[] {
  return merge(events.flatMap((event) => definition.project(event)));
}

/**
 * Writes deltas with one set-based upsert per table and column set. The rows travel as a single JSON parameter that
 * json_populate_recordset reads with the table's own row type: no statement grows with the batch, no column type is
 * written twice.
 */
export async function writeDeltas(tx: Tx, definition: ProjectionDefinition, version: number, deltas: readonly Delta[]): Promise<void> {
  const groups = new Map<string, Delta[]>();
  for (const delta of deltas) {
    const signature = `${delta.table}|${Object.keys(delta.key).join(',')}|${Object.keys(delta.set).sort().join(',')}|${Object.keys(delta.add).sort().join(',')}`;
    const group = groups.get(signature);
    if (group) group.push(delta);
    else groups.set(signature, [delta]);
  }
  for (const group of groups.values()) {
    const sample = group[0] as Delta;
    const spec = definition.tables[sample.table];
    if (!spec) throw new Error(`projection ${definition.name} has no table ${sample.table}`);
    const setColumns = Object.keys(sample.set).sort();
    const addColumns = Object.keys(sample.add).sort();
    const columns = [...Object.keys(sample.key), ...setColumns, ...addColumns];
    const table = tableName(definition, sample.table, version);
    const updates = [
      ...setColumns.map((column) => `${column} = EXCLUDED.${column}`),
      ...addColumns.map((column) => `${column} = ${table}.${column} + EXCLUDED.${column}`),
    ];
    const rows = group.map((delta) => ({ ...delta.key, ...delta.set, ...delta.add }));
    await tx.query(
      `INSERT INTO ${table} (${columns.join(', ')})
       SELECT ${columns.join(', ')} FROM json_populate_recordset(NULL::${table}, $1::json)
       ON CONFLICT (${spec.key.join(', ')}) ${updates.length > 0 ? `DO UPDATE SET ${updates.join(', ')}` : 'DO NOTHING'}`,
      [JSON.stringify(rows)],
    );
  }
}
