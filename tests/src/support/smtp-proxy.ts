import { createServer, type Server, type Socket, connect } from 'node:net';

export type SmtpProxy = {
  port: number;
  /** The SMTP server to forward to (set once it runs). */
  target(port: number): void;
  /**
   * The next `count` messages reach the server, which accepts them, but its answer to their end of data is withheld
   * from the client, whose session then hangs until its timeout: an SMTP server that accepted a message and went
   * silent before saying so.
   */
  withholdNextAcceptance(count?: number): void;
  /** How many acceptances were withheld so far. */
  withheld(): number;
  close(): Promise<void>;
};

/**
 * A real TCP proxy in front of an SMTP server, transparent unless told to withhold: it watches the client's side for
 * DATA and the end-of-data line ("\r\n.\r\n"), and swallows the server's reply that follows.
 */
export async function startSmtpProxy(): Promise<SmtpProxy> {
  let targetPort = 0;
  let toWithhold = 0;
  let withheld = 0;
  const sockets = new Set<Socket>();
  const server: Server = createServer((client) => {
    const upstream = connect(targetPort, '127.0.0.1');
    sockets.add(client).add(upstream);
    let tail = '';
    let inData = false;
    let awaitingAcceptance = false;
    let silenced = false;
    client.on('data', (chunk) => {
      if (silenced) return;
      tail = (tail + chunk.toString('latin1')).slice(-16);
      if (!inData && /(^|\n)DATA\r\n$/i.test(tail)) {
        inData = true;
        tail = '';
      } else if (inData && tail.endsWith('\r\n.\r\n')) {
        inData = false;
        awaitingAcceptance = true;
        tail = '';
      }
      upstream.write(chunk);
    });
    upstream.on('data', (chunk) => {
      if (silenced) return;
      if (awaitingAcceptance) {
        awaitingAcceptance = false;
        if (toWithhold > 0) {
          toWithhold -= 1;
          withheld += 1;
          // Nothing more reaches the client: it waits for the answer until its own timeout.
          silenced = true;
          return;
        }
      }
      client.write(chunk);
    });
    const close = () => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    client.on('error', close).on('close', close);
    upstream.on('error', close).on('close', close);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (!address || typeof address === 'string') throw new Error('the SMTP proxy has no port');
  return {
    port: address.port,
    target: (port) => (targetPort = port),
    withholdNextAcceptance: (count = 1) => (toWithhold += count),
    withheld: () => withheld,
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
