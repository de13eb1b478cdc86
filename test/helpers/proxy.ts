// A test's own HTTP proxy: forwards plain HTTP requests (streamed both ways) to its targets in
// round-robin order, with no stickiness at all, and answers every WebSocket upgrade with 403 —
// a network that refuses WebSockets. `cut()` destroys every forwarded response in flight (the
// stream is cut, as a flaky network would). Closed in t.teardown.
import { createServer, request, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';

export interface TestProxy {
  port: number;
  /** Requests forwarded so far, per target index, with method and path. */
  readonly log: { target: number; method: string; path: string }[];
  /** Upgrades refused so far. */
  readonly refusedUpgrades: number;
  /** Destroys every response being streamed through the proxy now. */
  cut(): void;
}

export async function startProxy(t: { teardown(fn: () => unknown): void }, targets: number[]): Promise<TestProxy> {
  let next = 0;
  let refused = 0;
  const log: TestProxy['log'] = [];
  const open = new Set<ServerResponse>();
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const target = next++ % targets.length;
    log.push({ target, method: req.method ?? '', path: req.url ?? '' });
    const up = request(
      { host: '127.0.0.1', port: targets[target], method: req.method, path: req.url, headers: req.headers },
      (ur) => {
        res.writeHead(ur.statusCode ?? 502, ur.headers);
        res.flushHeaders();
        ur.pipe(res);
        open.add(res);
        res.on('close', () => {
          open.delete(res);
          ur.destroy();
        });
      },
    );
    up.on('error', () => res.destroy());
    req.pipe(up);
  });
  server.on('upgrade', (_req: IncomingMessage, socket: Duplex) => {
    refused++;
    socket.end('HTTP/1.1 403 Forbidden\r\nConnection: close\r\nContent-Length: 19\r\n\r\nWebSockets blocked\n');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(
    () =>
      new Promise<void>((resolve) => {
        for (const r of open) r.destroy();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  );
  return {
    port: (server.address() as AddressInfo).port,
    log,
    get refusedUpgrades() {
      return refused;
    },
    cut() {
      for (const r of open) r.destroy();
    },
  };
}
