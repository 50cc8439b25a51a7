import type { KeyObject } from 'node:crypto';
import { ConflictError, type Routes, routes, type ServiceDeps, withTransaction } from '@jetsaga/platform';
import { z } from 'zod';
import { chainHead } from '../entries/append.js';
import { recordCheckpoint, recordVerify } from '../metrics.js';
import type { SigningKey } from './signing.js';
import { checkpointHead, checkpointView, lastCheckpoint, verifyRange } from './store.js';

const position = () => z.coerce.number().int().min(1).max(Number.MAX_SAFE_INTEGER);

const checkpointSchema = z.object({
  position: z.number().int(),
  hash: z.string().meta({ description: 'the chain head at this position, hex' }),
  signedAt: z.string(),
  keyId: z.string().meta({ description: 'first 16 hex digits of sha256 over the public key (SPKI DER)' }),
  signature: z.string().meta({ description: 'Ed25519 over the canonical JSON of kind, position, hash, signedAt and keyId, base64' }),
});

const verifySchema = z.object({
  ok: z.boolean(),
  from: z.number().int(),
  to: z.number().int(),
  checked: z.number().int().meta({ description: 'entries whose hash was recomputed and found right' }),
  checkpoints: z.number().int().meta({ description: 'signed checkpoints in the range' }),
  firstBroken: z
    .object({
      position: z.number().int(),
      id: z.string().nullable().meta({ description: 'the event id of the entry (null for a missing position)' }),
      reason: z.enum(['hash-mismatch', 'missing-position', 'checkpoint-mismatch', 'signature-invalid']),
      detail: z.string(),
    })
    .nullable(),
});

export type ChainRoutesOptions = Pick<ServiceDeps, 'db' | 'now'> & { key: SigningKey; publicKeys: ReadonlyMap<string, KeyObject> };

export function chainRoutes(options: ChainRoutesOptions): Routes {
  const { db, key, publicKeys } = options;
  return routes()
    .add({
      method: 'get',
      path: '/api/audit/verify',
      summary: 'Recompute the chain and check every signed checkpoint over a range of positions',
      description:
        'Answers ok, how many entries were checked and the first broken one: its position, event id and why (hash-mismatch: the entry or its hash was changed; missing-position: an entry was deleted; checkpoint-mismatch: entries up to a signed head were rewritten; signature-invalid: a checkpoint was forged or altered).',
      tags: ['audit'],
      roles: ['admin'],
      query: z
        .strictObject({ from: position().optional(), to: position().optional() })
        .refine((query) => query.from === undefined || query.to === undefined || query.from <= query.to, {
          path: ['to'],
          message: 'to is before from',
        }),
      responses: { 200: { description: 'The verdict (ok false names the first broken entry)', schema: verifySchema } },
      handler: async (c, { query }) => {
        const started = performance.now();
        const result = await verifyRange(db, publicKeys, query);
        const seconds = (performance.now() - started) / 1000;
        recordVerify(result, seconds);
        return c.json(result);
      },
    })
    .add({
      method: 'post',
      path: '/api/audit/checkpoints',
      summary: 'Sign the chain head now (a checkpoint)',
      tags: ['audit'],
      roles: ['admin'],
      responses: {
        201: { description: 'A new checkpoint at the head', schema: checkpointSchema },
        200: { description: 'The head was signed already: that checkpoint', schema: checkpointSchema },
      },
      problems: { 409: 'the trail is empty: nothing to sign' },
      handler: async (c) => {
        const { checkpoint, created } = await withTransaction(db, (tx) => checkpointHead(tx, key, options.now().toISOString()));
        if (!checkpoint) throw new ConflictError('the trail is empty: nothing to sign');
        if (created) recordCheckpoint('admin');
        return c.json(checkpointView(checkpoint), created ? 201 : 200);
      },
    })
    .add({
      method: 'get',
      path: '/api/audit/status',
      summary: 'The chain head, the last signed checkpoint and the signing key id',
      tags: ['audit'],
      roles: ['admin'],
      responses: {
        200: {
          description: 'Where the chain is',
          schema: z.object({
            head: z.object({ position: z.number().int(), hash: z.string() }),
            lastCheckpoint: checkpointSchema.nullable(),
            keyId: z.string(),
            publicKey: z.string().meta({ description: 'the signing public key, PEM (SPKI)' }),
          }),
        },
      },
      handler: async (c) => {
        const head = await chainHead(db);
        const last = await lastCheckpoint(db);
        return c.json({
          head: { position: head.position, hash: head.hash.toString('hex') },
          lastCheckpoint: last ? checkpointView(last) : null,
          keyId: key.keyId,
          publicKey: key.publicKey.export({ format: 'pem', type: 'spki' }).toString(),
        });
      },
    });
}
