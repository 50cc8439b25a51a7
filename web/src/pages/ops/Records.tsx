import { Json } from '../../components/ui.js';

/** The rows of an answer whose exact shape the console does not fix (contexts built beside it): its first list. */
export function rowsOf(answer: unknown): Record<string, unknown>[] {
  if (Array.isArray(answer)) return answer as Record<string, unknown>[];
  if (answer && typeof answer === 'object') {
    const list = Object.values(answer).find(Array.isArray);
    if (list) return list as Record<string, unknown>[];
  }
  return [];
}

export const nextOf = (answer: unknown) =>
  answer && typeof answer === 'object' && 'next' in answer ? ((answer as { next: string | null }).next ?? null) : null;

const cell = (value: unknown) =>
  value === null || value === undefined ? '—' : typeof value === 'object' ? JSON.stringify(value) : String(value);

export function Records({ answer, columns }: { answer: unknown; columns: string[] }) {
  const rows = rowsOf(answer);
  if (rows.length === 0) return <Json value={answer} />;
  return (
    <table>
      <thead>
        <tr>
          {columns.map((column) => (
            <th key={column} scope="col">
              {column}
            </th>
          ))}
        </tr>
      </thead>
      <tbody>
        {rows.map((row, index) => (
          <tr key={index}>
            {columns.map((column) => (
              <td key={column} className="clip">
                {cell(row[column])}
              </td>
            ))}
          </tr>
        ))}
      </tbody>
    </table>
  );
}
