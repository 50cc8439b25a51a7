import { catalog, personalFieldsOf } from '@jetsaga/events';
import { describe, expect, it } from 'vitest';
import { csvField, toCsv } from './csv.js';
import { COMPLIANCE_TAGS, TAG_RULES, type TagRule, tagsFor } from './rules.js';

describe('compliance tags', () => {
  it('tags payments PCI and FINANCIAL, a refusal PCI only', () => {
    expect(tagsFor('PaymentAccepted', { orderId: 'o', amountCents: 100 })).toEqual(['FINANCIAL', 'PCI']);
    expect(tagsFor('PaymentRefused', { orderId: 'o', reason: 'INSUFFICIENT_FUNDS' })).toEqual(['PCI']);
    expect(tagsFor('PaymentRefunded', { amountCents: 5 })).toEqual(['FINANCIAL', 'PCI']);
  });

  it('tags GDPR every field the catalogue marks personal (ADR 0052), so a field marked later is not missed', () => {
    for (const { type } of catalog) {
      const fields = new Set(personalFieldsOf(type).map((path) => path[0]));
      if (fields.size === 0) continue;
      const covered = TAG_RULES.filter((rule) => rule.tag === 'GDPR' && rule.types.includes(type)).flatMap((rule) => rule.fields ?? []);
      expect(
        [...fields].filter((field) => !covered.includes(field!)),
        type,
      ).toEqual([]);
    }
  });

  it('tags personal data GDPR only when the event carries it', () => {
    expect(tagsFor('CustomerRegistered', { customerId: 'c', name: 'n', email: 'e', balanceCents: 0 })).toEqual(['FINANCIAL', 'GDPR']);
    expect(tagsFor('OrderPlaced', { orderId: 'o', shippingAddress: { city: 'Paris' } })).toEqual(['GDPR']);
    expect(tagsFor('OrderPlaced', { orderId: 'o' })).toEqual([]);
    expect(tagsFor('ShipmentCreated', { shipmentId: 's', address: null })).toEqual([]);
    expect(tagsFor('CustomerErased', { customerId: 'c', erasedAt: 't' })).toEqual(['GDPR']);
  });

  it('tags refunds asked for by amount, and leaves events without a rule untagged', () => {
    expect(tagsFor('IncidentResolved', { resolution: 'REFUND', amountCents: 10 })).toEqual(['FINANCIAL']);
    expect(tagsFor('IncidentResolved', { resolution: 'NONE' })).toEqual([]);
    expect(tagsFor('ComplaintResolved', { resolution: 'x', refundCents: 3 })).toEqual(['FINANCIAL']);
    expect(tagsFor('CartItemAdded', { cartId: 'c' })).toEqual([]);
  });

  it('has a SECURITY rule ready with no event type yet, which applies once one is named', () => {
    const security = TAG_RULES.find((rule) => rule.tag === 'SECURITY');
    expect(security?.types).toEqual([]);
    const rules: TagRule[] = [...TAG_RULES, { ...security!, types: ['SignInFailed'] }];
    expect(tagsFor('SignInFailed', { subject: 's' }, rules)).toEqual(['SECURITY']);
  });

  it('only uses the declared tags, each rule naming why', () => {
    for (const rule of TAG_RULES) {
      expect(COMPLIANCE_TAGS).toContain(rule.tag);
      expect(rule.why.length).toBeGreaterThan(0);
    }
  });
});

describe('CSV', () => {
  it('quotes fields with commas, quotes and line breaks, doubling quotes inside', () => {
    expect(csvField('plain')).toBe('plain');
    expect(csvField('a,b')).toBe('"a,b"');
    expect(csvField('say "hi"')).toBe('"say ""hi"""');
    expect(csvField('two\nlines')).toBe('"two\nlines"');
    expect(csvField(42)).toBe('42');
    expect(csvField(null)).toBe('');
  });

  it('keeps a spreadsheet from reading a field as a formula', () => {
    expect(csvField('=HYPERLINK("x")')).toBe('"\'=HYPERLINK(""x"")"');
    expect(csvField('@sum')).toBe('"\'@sum"');
  });

  it('writes a header line and CRLF line ends', () => {
    expect(
      toCsv(
        ['a', 'b'],
        [
          [1, 'x,y'],
          [2, null],
        ],
      ),
    ).toBe('a,b\r\n1,"x,y"\r\n2,\r\n');
  });
});
