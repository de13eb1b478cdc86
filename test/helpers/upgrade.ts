// A raw WebSocket upgrade that reports how it ended, for tests of what happens before the handshake.
import WebSocket from 'ws';

/** Resolves with the HTTP status of a refused upgrade, or 'open' when the handshake completed. */
export function rawUpgrade(
  url: string,
  options: { protocols?: string[]; headers?: Record<string, string> } = {},
): Promise<number | 'open'> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, options.protocols ?? ['switchyard.v1'], { headers: options.headers });
    ws.on('unexpected-response', (_req, res) => {
      resolve(res.statusCode ?? 0);
      res.resume();
      ws.terminate();
    });
    ws.on('open', () => {
      resolve('open');
      ws.close();
    });
    ws.on('error', (err) => {
      if (!/Unexpected server response/.test(err.message)) reject(err);
    });
  });
}
