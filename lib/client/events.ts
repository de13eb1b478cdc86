/** The client's state and events. @module */
import type { ClientError } from './errors.js';
import type { Subscription } from './subscription.js';

/**
 * Connection state. `offline` ([UP-1]) only with the full client (`switchyardjs/client/full`, the
 * Node entry) in a browser that reports no network: it waits for the network instead of spending
 * reconnect attempts.
 */
export type ClientState = 'connecting' | 'connected' | 'reconnecting' | 'offline' | 'closed';

/** Events of a `Client`. */
export interface ClientEvents {
  /** The state changed. */
  state: (state: ClientState) => void;
  /** Connected and welcomed; `connectionId` is the server's id for support and logs. */
  connected: (info: { connectionId: string }) => void;
  /** The connection closed; `willReconnect` says whether the client will try again. */
  disconnected: (info: { code: number; reason: string; willReconnect: boolean }) => void;
  /** The client stopped for good: `close()` was called or the server sent a terminal code. */
  closed: (info: { code: number; reason: string }) => void;
  /** A connection-level error frame from the server, or a server frame the client could not decode (code 1002 `BAD_SERVER_FRAME`: the client then reconnects). */
  error: (err: ClientError) => void;
  /** The token provider threw or returned a non-string, or the server refused a refreshed token (120); it is retried with backoff. */
  tokenError: (err: unknown) => void;
  /** The server accepted a refreshed token; `expiresIn` is the new lifetime in ms (absent: it no longer expires). */
  refreshed: (info: { expiresIn?: number }) => void;
  /** The server subscribed this client to a channel (docs/identity.md); listen with `sub.on('message', ...)`. */
  serverSubscription: (sub: Subscription) => void;
}
