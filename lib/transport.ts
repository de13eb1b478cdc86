/**
 * The minimal socket contract the core drives. Adapters implement it on a real transport
 * (`ws` in `adapters/ws-transport.ts`); core tests implement it on a fake. The core never sees
 * anything else about a socket.
 * @module
 */

/** A frame handed to a transport: text, or UTF-8 bytes of text prepared once for many sockets. */
export type OutgoingFrame = string | Uint8Array;

/** What the hub needs from one client socket. */
export interface Transport {
  /** Queues one text frame. Must not throw after the socket closed (drop silently instead). */
  send(frame: OutgoingFrame): void;
  /**
   * Starts a close handshake with `code` and a reason of at most 123 bytes. Implementations
   * terminate the socket if the peer does not complete the handshake within a short delay.
   * With `discard` (a slow consumer, 3002) the queued frames are dropped and the socket is
   * destroyed at once: its close frame would only wait behind the whole queue, holding the
   * memory while the client reconnects and queues again.
   */
  close(code: number, reason: string, discard?: boolean): void;
  /** Destroys the socket at once, without a handshake. */
  terminate(): void;
  /** Bytes queued for sending and not yet written to the network: the backpressure signal. */
  readonly bufferedAmount: number;
}

/**
 * Facts about the upgrade request the adapter hands to `authenticate`. `Raw` is the framework's
 * own request object, which depends on the adapter: each adapter exports its alias
 * (`HttpAuthRequest`, `ExpressAuthRequest`, `FastifyAuthRequest`, `KoaAuthRequest`) to annotate
 * the hook's parameter with.
 */
export interface AuthRequest<Raw = unknown> {
  /** Lower-cased request headers. */
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  /** Request path and query, e.g. `/realtime?room=1`. */
  readonly url: string;
  /** Remote address as the socket reports it. */
  readonly remoteAddress?: string;
  /**
   * Token the client SDK sent in the `Sec-WebSocket-Protocol` header (`switchyard.token.<base64url>`).
   * Never logged by switchyard.
   */
  readonly token?: string;
  /** The framework's own request object (node:http IncomingMessage, Express Request, Fastify request, Koa context). */
  readonly raw: Raw;
}

/** The callbacks an adapter calls for the life of one accepted connection. */
export interface ConnectionInput {
  /** A message arrived; `binary` tells whether it was a binary frame (not allowed in v1). */
  receive(data: string, binary: boolean): void;
  /** The socket closed (for any reason). Idempotent. */
  closed(code: number): void;
}
