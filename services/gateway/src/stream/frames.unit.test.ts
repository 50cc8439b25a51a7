import { describe, expect, it } from 'vitest';
import { comment, frame, resumeAfter, retry } from './frames.js';

const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes);

describe('SSE framing', () => {
  it('writes id, event and one data line, then the blank line that dispatches the event', () => {
    const payload = JSON.stringify({ id: 'e1', type: 'OrderPlaced', data: { note: 'a: b' } });
    expect(text(frame({ id: '42', event: 'OrderPlaced', data: new TextEncoder().encode(payload) }))).toBe(
      `id: 42\nevent: OrderPlaced\ndata: ${payload}\n\n`,
    );
  });

  it('splits data with line breaks (LF, CRLF, CR) into data lines the client joins back', () => {
    expect(text(frame({ data: 'one\ntwo\r\nthree\rfour' }))).toBe('data: one\ndata: two\ndata: three\ndata: four\n\n');
    expect(text(frame({ data: '' }))).toBe('data: \n\n');
  });

  it('refuses an id or event name with a line break (it would start a field of its own)', () => {
    expect(() => frame({ id: '1\ndata: forged', data: 'x' })).toThrow(/line break/);
    expect(() => frame({ event: 'a\rb', data: 'x' })).toThrow(/line break/);
  });

  it('writes comments on one line and the reconnection delay alone', () => {
    expect(text(comment('ping'))).toBe(': ping\n\n');
    expect(text(comment('two\nlines'))).toBe(': two lines\n\n');
    expect(text(retry(1000.7))).toBe('retry: 1000\n\n');
  });

  it('resumes after Last-Event-ID before ?after=, and ignores a header that is no sequence', () => {
    expect(resumeAfter('17', 5)).toBe(17);
    expect(resumeAfter(' 17 ', undefined)).toBe(17);
    expect(resumeAfter(undefined, 5)).toBe(5);
    expect(resumeAfter('abc', 5)).toBe(5);
    expect(resumeAfter('-3', undefined)).toBeUndefined();
    expect(resumeAfter(undefined, undefined)).toBeUndefined();
  });
});
