/**
 * `--spawn-server`: an in-process switchyard server on 127.0.0.1 sized for load tests (a history
 * deep enough that churning clients recover, client publishing allowed on the test channels,
 * no per-connection publish rate limit in the way of the publishers) with its HTTP API mounted
 * under `/realtime/api` and a random API key.
 * @module
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { attach, httpApi } from '../../adapters/http.js';
import { Switchyard } from '../../lib/hub.js';
import { randomHex } from '../../lib/random-id.js';

/** A running target server. */
export interface Target {
  hub: Switchyard;
  url: string;
  /** The hub's HTTP API (`--publish http` uses it). */
  apiUrl: string;
  apiKey: string;
  close(): Promise<void>;
}

/** Starts the target; `historySize` messages per channel are kept for recovery. */
export async function startTarget(historySize: number): Promise<Target> {
  const history = { size: historySize, ttl: 600_000, recoveryCap: historySize };
  const hub = new Switchyard({
    history,
    channels: [{ match: 'loadtest.>', clientPublish: true, history }],
    limits: { publishesPerSecond: 1_000_000, inflightWindow: 1_024 },
  });
  const apiKey = randomHex(16);
  const api = httpApi(hub, { apiKey });
  const server = createServer((req, res) => {
    if (!api(req, res)) res.writeHead(404).end();
  });
  attach(hub, server, { path: '/realtime' });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const { port } = server.address() as AddressInfo;
  return {
    hub,
    url: `ws://127.0.0.1:${port}/realtime`,
    apiUrl: `http://127.0.0.1:${port}/realtime/api`,
    apiKey,
    async close() {
      await hub.close();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
