/**
 * The client's options: their documented defaults, and validation that says what to pass instead.
 * @module
 */
import { isPattern } from '../channel-name.js';
import { isIntIn } from '../integers.js';
import type { QoS } from '../protocol.js';
import { roundRobin, type Endpoints } from './endpoints.js';
import type { TokenProvider } from './refresh.js';
import type { SubscribeOptions } from './subscription.js';
import type { ClientTransport } from './transport.js';
import { webSocketTransport, type WebSocketConstructor } from './transport-websocket.js';

/** Options of {@link connect}. */
export interface ClientOptions {
  /**
   * Token for the server's `authenticate` hook (sent in the subprotocol header, never in the URL).
   * A function (the app's `getToken`) is called on every (re)connect and whenever the server asks
   * for a refresh before the connection's credentials expire; the new token then travels over the
   * open socket (docs/identity.md). A throw is retried with the reconnect backoff (reported as
   * `tokenError`); returning `null` means "no credentials" and stops the client (state `closed`,
   * code 3510 NO_TOKEN). A fixed string cannot be refreshed: an expiring connection then closes
   * with 3010 and reconnects with the same string.
   */
  token?: TokenProvider;
  /** Reconnect after a non-terminal close (default true) with full-jitter backoff between `minDelay` (500 ms) and `maxDelay` (20,000 ms). */
  reconnect?: boolean | { minDelay?: number; maxDelay?: number };
  /** Milliseconds a request (subscribe, QoS 0 publish, history) waits for its reply (default 10,000). */
  timeout?: number;
  /**
   * Milliseconds a QoS 1 publish keeps retrying across reconnects before it rejects (default 60,000).
   * Retries after a transient error (201, 202, 106, no reply) wait a growing, jittered delay
   * (200 ms doubling to 5 s), and all QoS 1 sends are paced under the server's announced publish rate.
   */
  publishTimeout?: number;
  /**
   * Calls held while not connected (default 1,000), counted separately for QoS 1 publishes and for
   * other calls (QoS 0 publishes, history, presence); beyond it the call rejects at once with
   * `offline queue full`.
   */
  offlineQueue?: number;
  /** WebSocket implementation of the default WebSocket transport (default: global `WebSocket`; the Node entry passes `ws`). Ignored when `transport` is given. */
  WebSocket?: WebSocketConstructor;
  /** How to reach the server (default: the WebSocket transport, with `WebSocket`). See `ClientTransport` in docs/client.md. */
  transport?: ClientTransport;
}

/** Options of `client.publish()`. */
export interface ClientPublishOptions {
  /** 0 (default): sent once, acknowledged when the server stored it. 1: retried across reconnects with a message id so it is stored exactly once. */
  qos?: QoS;
}

/** Options with their defaults filled in. */
export interface ResolvedOptions {
  token: TokenProvider | undefined;
  reconnect: false | { minDelay: number; maxDelay: number };
  timeout: number;
  publishTimeout: number;
  offlineQueue: number;
  transport: ClientTransport;
  endpoints: Endpoints;
}

function posInt(name: string, v: unknown, dflt: number): number {
  if (v === undefined) return dflt;
  if (!isIntIn(v, 1)) throw new TypeError(`switchyard client: ${name} must be a positive integer (got ${String(v)})`);
  return v;
}

/** Validates `connect()`'s arguments; throws a TypeError naming the bad one and what it must be. */
export function resolveOptions(url: string | readonly string[] | Endpoints, options: ClientOptions): ResolvedOptions {
  let transport = options.transport;
  if (transport !== undefined && typeof transport?.open !== 'function')
    throw new TypeError('switchyard client: transport must be a ClientTransport');
  if (!transport) {
    const WS = options.WebSocket ?? (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket;
    if (!WS)
      throw new TypeError(
        'switchyard client: no WebSocket implementation; pass options.WebSocket (in Node import from "switchyardjs/client", which supplies ws)',
      );
    // Only an explicitly given implementation (Node's ws) can read a refused upgrade's HTTP status.
    transport = webSocketTransport(WS, options.WebSocket !== undefined);
  }
  // An Endpoints (e.g. nearestEndpoint()) chooses among its own URLs.
  const chooser = (url as Endpoints)?.next ? (url as Endpoints) : undefined;
  const urls =
    typeof url === 'string'
      ? [url]
      : chooser
        ? [...chooser.all]
        : Array.isArray(url)
          ? [...(url as readonly string[])]
          : [];
  if (urls.length === 0)
    throw new TypeError(
      `switchyard client: url must be a ws:// or wss:// URL, a non-empty array of them or an Endpoints (got ${String(url)})`,
    );
  for (const u of urls) {
    const problem = typeof u === 'string' ? transport.checkUrl?.(u) : 'must be a string';
    if (problem) throw new TypeError(`switchyard client: url ${problem} (got ${String(u)})`);
  }
  const r = options.reconnect ?? true;
  if (typeof r !== 'boolean' && (typeof r !== 'object' || r === null))
    throw new TypeError('switchyard client: reconnect must be a boolean or {minDelay, maxDelay}');
  const reconnect =
    r === false
      ? false
      : {
          minDelay: posInt('reconnect.minDelay', r === true ? undefined : r.minDelay, 500),
          maxDelay: posInt('reconnect.maxDelay', r === true ? undefined : r.maxDelay, 20_000),
        };
  if (options.token !== undefined && typeof options.token !== 'string' && typeof options.token !== 'function')
    throw new TypeError('switchyard client: token must be a string or a function returning one (or null)');
  return {
    token: options.token,
    reconnect,
    timeout: posInt('timeout', options.timeout, 10_000),
    publishTimeout: posInt('publishTimeout', options.publishTimeout, 60_000),
    offlineQueue: posInt('offlineQueue', options.offlineQueue, 1_000),
    transport,
    endpoints: chooser ?? roundRobin(urls),
  };
}

/** Validates `client.subscribe()`'s arguments; throws a TypeError naming the bad one. */
export function checkSubscribe(channel: unknown, handler: unknown, options: SubscribeOptions): void {
  if (typeof channel !== 'string' || channel.length === 0)
    throw new TypeError('switchyard client: channel must be a non-empty string');
  if (typeof handler !== 'function') throw new TypeError('switchyard client: handler must be a function');
  const qos = options.qos ?? 0;
  if (qos !== 0 && qos !== 1) throw new TypeError('switchyard client: qos must be 0 or 1');
  const exact = !isPattern(channel);
  const presence = options.presence ?? false;
  if (typeof presence !== 'boolean') throw new TypeError('switchyard client: presence must be a boolean');
  if (presence && !exact) throw new TypeError('switchyard client: presence events need an exact channel');
  const userPresence = options.userPresence ?? false;
  if (typeof userPresence !== 'boolean') throw new TypeError('switchyard client: userPresence must be a boolean');
  if (userPresence && !exact) throw new TypeError('switchyard client: user presence events need an exact channel');
}
