/**
 * Node entry of `switchyardjs/client`: the browser SDK with the `ws` package as its WebSocket.
 * Browsers resolve `switchyardjs/client` to `lib/client` instead, so `ws` never enters a bundle.
 * @module
 */
import WebSocket from 'ws';
import { Client, type ClientOptions, type Endpoints, type WebSocketConstructor } from '../lib/client/index.js';

export * from '../lib/client/index.js';

/** Connects to a switchyard endpoint, using `ws` unless `options.WebSocket` is given. */
export function connect(url: string | readonly string[] | Endpoints, options: ClientOptions = {}): Client {
  return new Client(url, { WebSocket: WebSocket as unknown as WebSocketConstructor, ...options });
}
