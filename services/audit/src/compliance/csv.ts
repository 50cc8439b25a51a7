/**
 * RFC 4180 CSV: a header line, CRLF line ends, a field quoted when it holds a comma, a quote, CR or LF (quotes
 * doubled inside). A field that a spreadsheet would read as a formula (=, +, -, @, tab, CR first) is quoted and
 * prefixed with an apostrophe, so opening a compliance report never runs what an event carried.
 */
export function csvField(value: string | number | null | undefined): string {
  if (value === null || value === undefined) return '';
  let text = String(value);
  if (typeof value === 'string' && /^[=+\-@\t\r]/.test(text)) text = `'${text}`;
  return /[",\r\n]/.test(text) || text !== String(value) ? `"${text.replaceAll('"', '""')}"` : text;
}

export function csvLine(fields: ReadonlyArray<string | number | null | undefined>): string {
  return `${fields.map(csvField).join(',')}\r\n`;
}

export function toCsv(header: readonly string[], rows: ReadonlyArray<ReadonlyArray<string | number | null | undefined>>): string {
  return csvLine(header) + rows.map(csvLine).join('');
}
