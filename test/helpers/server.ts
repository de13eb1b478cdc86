// Starts a real node:http server with a hub on 127.0.0.1:0 and closes both in t.teardown.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Switchyard } from '../../lib/hub.js';
import type { SwitchyardOptions } from '../../lib/options.js';
import { attach, type AttachOptions } from '../../adapters/http.js';
import { connect, type Client, type ClientOptions } from '../../adapters/client-node.js';

export interface TestServer {
  hub: Switchyard;
  server: Server;
  port: number;
  url: string;
}

interface Teardown {
  teardown(fn: () => unknown): void;
}

export async function startServer(
  t: Teardown,
  options: SwitchyardOptions = {},
  attachOptions: Partial<AttachOptions> = {},
): Promise<TestServer> {
  const hub = new Switchyard(options);
  const server = createServer((_req, res) => res.writeHead(404).end());
  attach(hub, server, { path: '/realtime', ...attachOptions });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  t.teardown(async () => {
    await hub.close();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
  return { hub, server, port, url: `ws://127.0.0.1:${port}/realtime` };
}

/** A client that is closed in teardown; resolves once connected. */
export async function connectClient(t: Teardown, url: string, options: ClientOptions = {}): Promise<Client> {
  const c = connect(url, { reconnect: { minDelay: 20, maxDelay: 200 }, ...options });
  t.teardown(() => c.close());
  await once(c, 'connected');
  return c;
}

/** Resolves with the first emission of `event`. */
export function once<T = any>(
  emitter: { once(event: string, fn: (...a: any[]) => void): unknown },
  event: string,
): Promise<T> {
  return new Promise((resolve) => emitter.once(event, (v: T) => resolve(v)));
}

/** Polls `pred` on each macrotask until true (for state that has no event), bounded by `ms`. */
export async function until(pred: () => boolean, ms = 5_000): Promise<void> {
  const end = Date.now() + ms;
  while (!pred()) {
    if (Date.now() > end) throw new Error('condition not reached in time');
    await new Promise((r) => setImmediate(r));
  }
}
