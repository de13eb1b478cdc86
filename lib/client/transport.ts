/**
 * The seam between the client and the wire. The client speaks protocol v1 as JSON text frames and
 * needs from a transport only: open a connection to one endpoint with an optional token, deliver
 * each server frame as text, report the close, and send text upstream. Everything specific to one
 * wire (WebSocket ready states, the token in a subprotocol header, how a refused handshake shows)
 * stays inside its implementation (transport-websocket.ts).
 * @module
 */

/** How a transport connection ended. */
export interface TransportClose {
  /** The close code (a close code of docs/protocol.md, or 1006 when the connection dropped without one). */
  code: number;
  reason: string;
  /**
   * Set when the server refused the connection before it opened and the transport could read the
   * HTTP status (e.g. 401/403 from `authenticate`, 400): reconnecting would be refused the same way.
   */
  refused?: { status: number };
}

/** What a transport reports; the client ignores reports from a connection that is no longer its current one. */
export interface TransportEvents {
  /** The connection is open and `send` works (the client still waits for `welcome`). */
  open?(): void;
  /** One server→client frame, as the JSON text it came in. */
  frame(text: string): void;
  /** The connection ended (once); after `close()` was called it may still be reported, late. */
  close(info: TransportClose): void;
  /** A transport-level error; a `close` report follows. */
  error?(err: unknown): void;
}

/** One open (or opening) connection. */
export interface TransportConnection {
  /** Sends one client→server frame; returns false (and sends nothing) when the connection is not open. */
  send(text: string): boolean;
  /** Closes the connection with a close code and reason. */
  close(code: number, reason: string): void;
}

/** A way to reach a switchyard endpoint (WebSocket; an HTTP-streaming one may follow). */
export interface ClientTransport {
  /** Why `url` cannot be used with this transport (e.g. `must start with ws:// or wss://`), or undefined when it can. */
  checkUrl?(url: string): string | undefined;
  /**
   * Opens a connection to `url`, authenticated with `token` when given; reports through `on`.
   * Throws an Error (its message says why) when the connection cannot even be attempted.
   */
  open(url: string, token: string | undefined, on: TransportEvents): TransportConnection;
}
