import { describe, expect, it } from 'vitest';
import { SseParser } from './sse.js';

describe('SseParser', () => {
  it('gives each message once it is complete, whatever the chunking', () => {
    const text = ': ping\n\nid: 7\nevent: OrderPlaced\ndata: {"a":1}\n\nid: 8\nevent: StockReserved\ndata: {"b":\ndata: 2}\n\n';
    for (const size of [1, 3, 7, text.length]) {
      const parser = new SseParser();
      const messages = [];
      for (let i = 0; i < text.length; i += size) messages.push(...parser.feed(text.slice(i, i + size)));
      expect(messages).toEqual([
        { id: '7', event: 'OrderPlaced', data: '{"a":1}' },
        { id: '8', event: 'StockReserved', data: '{"b":\n2}' },
      ]);
      expect(parser.lastEventId).toBe('8');
    }
  });

  it('accepts CRLF and CR line ends, even split across chunks', () => {
    const parser = new SseParser();
    expect([...parser.feed('id: 1\r'), ...parser.feed('\ndata: x\r\n\r'), ...parser.feed('\n'), ...parser.feed('data: y\r\r\n')]).toEqual([
      { id: '1', event: 'message', data: 'x' },
      { id: '1', event: 'message', data: 'y' },
    ]);
  });

  it('skips comments and messages without data', () => {
    const parser = new SseParser();
    expect(parser.feed(': ping\n\nevent: nothing\n\nretry: 10\n\n')).toEqual([]);
  });
});
