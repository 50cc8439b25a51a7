import { describe, expect, it } from 'vitest';
import { amount, LOCALES, render, TEMPLATES } from './templates.js';

const orderId = '0192f0e1-aaaa-7bbb-8ccc-dddddddddddd';

describe('email templates', () => {
  it('writes every template in English and French, as text and HTML, with a subject', () => {
    for (const template of TEMPLATES)
      for (const locale of LOCALES) {
        const email = render(template, locale, { orderId, name: 'Ada', totalCents: 1234, amountCents: 500, reason: 'OUT_OF_STOCK' });
        expect(email.subject.length, `${template} ${locale}`).toBeGreaterThan(5);
        expect(email.text.length).toBeGreaterThan(email.subject.length / 2);
        expect(email.html).toContain('<html');
      }
  });

  it('says the order is confirmed, with its reference and total, in the customer’s language', () => {
    expect(render('order-completed', 'en', { orderId, totalCents: 1234, name: 'Ada' })).toMatchObject({
      subject: 'Your order 0192F0E1 is confirmed',
      text: expect.stringContaining('(12.34)'),
    });
    const fr = render('order-completed', 'fr', { orderId, totalCents: 1234, name: 'Ada' });
    expect(fr.subject).toBe('Votre commande 0192F0E1 est confirmée');
    expect(fr.text).toContain('Bonjour Ada,');
    expect(fr.text).toContain('12,34');
  });

  it('gives the reason of a cancellation in words', () => {
    expect(render('order-cancelled', 'en', { orderId, reason: 'PAYMENT_REFUSED' }).text).toContain('because the payment was refused');
    expect(render('order-cancelled', 'fr', { orderId, reason: 'OUT_OF_STOCK' }).text).toContain('rupture de stock');
  });

  it('escapes what customers typed in the HTML part', () => {
    const email = render('complaint-opened', 'en', { title: '<script>alert(1)</script>', name: 'A & B' });
    expect(email.html).not.toContain('<script>');
    expect(email.html).toContain('&#60;script&#62;');
    expect(email.html).toContain('A &#38; B');
  });

  it('formats cents per locale', () => {
    expect(amount(123456, 'en')).toBe('1,234.56');
    expect(amount(123456, 'fr')).toMatch(/^1\s?234,56$/);
  });

  it('names an alert, its severity and status in the subject', () => {
    expect(render('alert', 'en', { alertName: 'NotificationsFailing', severity: 'critical', alertStatus: 'firing' }).subject).toBe(
      '[FIRING] NotificationsFailing (critical)',
    );
  });
});
