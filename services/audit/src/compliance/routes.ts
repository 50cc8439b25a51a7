import { type Routes, routes, type ServiceDeps } from '@jetsaga/platform';
import { z } from 'zod';
import { entrySchema, instant } from '../entries/routes.js';
import { reportEntries } from '../entries/store.js';
import { toCsv } from './csv.js';
import { COMPLIANCE_TAGS } from './rules.js';

/** The most entries one report lists (the counts cover everything); a longer period is asked for in parts. */
export const REPORT_MAX_ENTRIES = 10_000;

export const CSV_HEADER = [
  'position',
  'event_id',
  'occurred_at',
  'recorded_at',
  'type',
  'aggregate_type',
  'aggregate_id',
  'correlation_id',
  'actor',
  'tags',
  'hash',
] as const;

const reportSchema = z.object({
  tag: z.enum(COMPLIANCE_TAGS),
  from: z.string().nullable(),
  to: z.string().nullable(),
  generatedAt: z.string(),
  total: z.number().int(),
  byType: z.record(z.string(), z.number().int()),
  truncated: z.boolean().meta({ description: `true when more than ${REPORT_MAX_ENTRIES} entries matched (the counts cover all)` }),
  entries: z.array(entrySchema.omit({ envelope: true })),
});

export function complianceRoutes({ db, now }: Pick<ServiceDeps, 'db' | 'now'>): Routes {
  return routes().add({
    method: 'get',
    path: '/api/audit/reports/compliance',
    summary: 'The entries of one compliance tag over a period, as JSON or CSV',
    description: 'CSV (`format=csv`): RFC 4180, a header line, CRLF line ends, tags joined by `|`.',
    tags: ['audit'],
    roles: ['admin'],
    query: z
      .strictObject({
        tag: z.enum(COMPLIANCE_TAGS),
        from: instant().optional(),
        to: instant().optional(),
        format: z.enum(['json', 'csv']).default('json'),
      })
      .refine((query) => !query.from || !query.to || Date.parse(query.from) <= Date.parse(query.to), {
        path: ['to'],
        message: 'to is before from',
      }),
    responses: { 200: { description: 'The report (JSON), or the same entries as text/csv', schema: reportSchema } },
    handler: async (c, { query }) => {
      const { tag, from, to, format } = query;
      const report = await reportEntries(db, { tag, ...(from ? { from } : {}), ...(to ? { to } : {}) }, REPORT_MAX_ENTRIES);
      const entries = report.entries.map(({ envelope: _envelope, ...entry }) => entry);
      if (format === 'csv') {
        const csv = toCsv(
          CSV_HEADER,
          entries.map((entry) => [
            entry.position,
            entry.eventId,
            entry.occurredAt,
            entry.recordedAt,
            entry.type,
            entry.aggregateType,
            entry.aggregateId,
            entry.correlationId,
            entry.actor,
            entry.tags.join('|'),
            entry.hash,
          ]),
        );
        return c.body(csv, 200, {
          'content-type': 'text/csv; charset=utf-8; header=present',
          'content-disposition': `attachment; filename="audit-${tag.toLowerCase()}.csv"`,
          'x-audit-report-total': String(report.total),
          'x-audit-report-truncated': String(report.truncated),
        });
      }
      return c.json({
        tag,
        from: from ?? null,
        to: to ?? null,
        generatedAt: now().toISOString(),
        total: report.total,
        byType: report.byType,
        truncated: report.truncated,
        entries,
      });
    },
  });
}
