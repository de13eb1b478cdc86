/**
 * Publishers of the load test: through the in-process hub, the hub's HTTP API, or SDK clients.
 * Each publish resolves with the stored position, which tells the checker what to expect.
 * @module
 */
import WebSocket from 'ws';
import { Client, type WebSocketConstructor } from '../../lib/client/index.js';
import type { Switchyard } from '../../lib/hub.js';
import type { Pos } from './checker.js';
import { authFor, RunError, type AuthTemplate, type LoadtestConfig } from './config.js';
import type { Target } from './target.js';

/** Publishes one message and resolves with its position. */
export interface Publisher {
  publish(channel: string, data: unknown): Promise<Pos>;
  close(): void;
}

/** Publishes through a hub in this process. */
export function hubPublisher(hub: Switchyard): Publisher {
  return { publish: (ch, data) => hub.publish(ch, data), close() {} };
}

/**
 * Publishes through the HTTP API: `POST <apiUrl>/publish` with `{channel, data}` (see
 * docs/http-api.md); the response carries `offset` and `epoch` (at the top level or under `result`).
 */
export function httpPublisher(apiUrl: string, apiKey: string | undefined): Publisher {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (apiKey) headers.authorization = `Bearer ${apiKey}`;
  return {
    async publish(channel, data) {
      const res = await fetch(`${apiUrl}/publish`, {
        method: 'POST',
        headers,
        body: JSON.stringify({ channel, data }),
      });
      const text = await res.text();
      if (!res.ok) throw new Error(`HTTP ${res.status}: ${text.slice(0, 200)}`);
      const body = JSON.parse(text) as Partial<Pos> & { result?: Partial<Pos> };
      const pos = body.result ?? body;
      if (typeof pos.offset !== 'number' || typeof pos.epoch !== 'string')
        throw new Error(`HTTP publish answered without offset/epoch: ${text.slice(0, 200)}`);
      return { offset: pos.offset, epoch: pos.epoch };
    },
    close() {},
  };
}

/** Publishes with `client.publish(..., { qos: 1 })` from `n` SDK connections, round-robin. */
export async function clientPublisher(
  url: string,
  n: number,
  timeoutMs: number,
  auth: AuthTemplate = { headers: {} },
): Promise<Publisher> {
  const clients: Client[] = [];
  for (let i = 0; i < n; i++) {
    const { token, headers } = authFor(auth, `pub${i}`);
    // biome-ignore lint/complexity/useArrowFunction: the client calls it with `new`, which an arrow function refuses.
    const WithHeaders = function (u: string, protocols: string[]) {
      return new WebSocket(u, protocols, { headers });
    } as unknown as WebSocketConstructor;
    clients.push(new Client(url, { WebSocket: WithHeaders, ...(token !== undefined && { token }) }));
  }
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () =>
          reject(
            new RunError(
              `--publish client connections not up after ${timeoutMs} ms: check --url and that the server is up`,
            ),
          ),
        timeoutMs,
      );
    });
    const up = clients.map(
      (c) =>
        new Promise<void>((resolve, reject) => {
          c.once('connected', () => resolve());
          c.once('closed', ({ code, reason }) => {
            const hint = /HTTP 40[13]/.test(reason)
              ? "; the server's authenticate hook refused it: pass credentials with --token, --header or --cookie"
              : '';
            reject(new RunError(`a --publish client connection was closed (${code} ${reason})${hint}`));
          });
        }),
    );
    await Promise.race([Promise.all(up), timeout]);
  } catch (err) {
    for (const c of clients) c.close();
    throw err;
  } finally {
    clearTimeout(timer);
  }
  let next = 0;
  return {
    publish: (ch, data) => clients[next++ % clients.length]!.publish(ch, data, { qos: 1 }),
    close: () => clients.forEach((c) => c.close()),
  };
}

/** The publisher a configuration asks for. */
export async function createPublisher(
  cfg: LoadtestConfig,
  url: string,
  target: Target | undefined,
): Promise<Publisher> {
  if (cfg.publish === 'hub') {
    if (!target) throw new Error('--publish hub needs --spawn-server');
    return hubPublisher(target.hub);
  }
  if (cfg.publish === 'http')
    return cfg.apiUrl ? httpPublisher(cfg.apiUrl, cfg.apiKey) : httpPublisher(target!.apiUrl, target!.apiKey);
  return clientPublisher(url, cfg.publishers, 10_000, cfg.auth);
}
