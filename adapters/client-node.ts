/**
 * Node entry of `switchyardjs/client`: the full SDK (`switchyardjs/client/full`: HTTP-streaming
 * fallback, binary payloads; uplink awareness is browser-only and idle here) with the `ws`
 * package as its WebSocket. Browsers resolve `switchyardjs/client` to `lib/client` instead, so
 * `ws` never enters a bundle.
 * @module
 */
import WebSocket from 'ws';
import type { Endpoints, WebSocketConstructor } from '../lib/client/index.js';
import { Client, type FullClientOptions } from '../lib/client/full.js';

export * from '../lib/client/full.js';

/** Connects to a switchyard endpoint, using `ws` unless `options.WebSocket` is given. */
export function connect(url: string | readonly string[] | Endpoints, options: FullClientOptions = {}): Client {
  return new Client(url, { WebSocket: WebSocket as unknown as WebSocketConstructor, ...options });
}
