/**
 * The WebSocket {@link ClientTransport}: protocol v1 over one WebSocket, the token in the
 * subprotocol header (never in the URL), and the two ways a refused upgrade shows — Node's `ws`
 * reports the HTTP status in its error, a browser's WebSocket hides it, so there the server is
 * asked to close with 3520 AUTH_REFUSED instead ([TR-5]).
 * @module
 */
import { REFUSAL_CLOSE_PROTOCOL, SUBPROTOCOL, TOKEN_PROTOCOL_PREFIX } from '../protocol.js';
import type { ClientTransport, TransportConnection, TransportEvents } from './transport.js';

/** The subset of the WebSocket API the client uses (browsers' WebSocket and `ws` both fit). */
export interface WebSocketLike {
  readonly readyState: number;
  onopen: ((ev: unknown) => void) | null;
  onmessage: ((ev: { data: unknown }) => void) | null;
  onclose: ((ev: { code: number; reason: string }) => void) | null;
  onerror: ((ev: unknown) => void) | null;
  send(data: string): void;
  close(code?: number, reason?: string): void;
}

/** A WebSocket constructor. */
export type WebSocketConstructor = new (url: string, protocols: string[]) => WebSocketLike;

/** `WebSocket.OPEN` (the constant is not on every implementation's prototype). */
const OPEN = 1;

function base64url(s: string): string {
  const bytes = new TextEncoder().encode(s);
  let bin = '';
  for (const b of bytes) bin += String.fromCharCode(b);
  return btoa(bin).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

/**
 * The HTTP status of a refused upgrade in a `ws` error event (`Unexpected server response: 401`)
 * when reconnecting would be refused the same way (400, 401, 403); undefined otherwise.
 */
export function refusedStatus(ev: unknown): number | undefined {
  const e = ev as { message?: string; error?: Error } | undefined;
  const m = /Unexpected server response: (40[013])\b/.exec(String(e?.message ?? e?.error?.message ?? ''));
  return m ? Number(m[1]) : undefined;
}

/**
 * The WebSocket transport. `canReadStatus`: the implementation reports a refused upgrade's HTTP
 * status (true for `ws` in Node); false for a browser's WebSocket, which then offers
 * `switchyard.refusal-close` so the server says why with a close code.
 */
export function webSocketTransport(WS: WebSocketConstructor, canReadStatus: boolean): ClientTransport {
  return {
    checkUrl: (url) => (/^wss?:\/\//.test(url) ? undefined : 'must start with ws:// or wss://'),
    open(url: string, token: string | undefined, on: TransportEvents): TransportConnection {
      const protocols = canReadStatus ? [SUBPROTOCOL] : [SUBPROTOCOL, REFUSAL_CLOSE_PROTOCOL];
      if (token) protocols.push(TOKEN_PROTOCOL_PREFIX + base64url(token));
      let ws: WebSocketLike;
      try {
        ws = new WS(url, protocols);
      } catch (err) {
        throw new Error(`cannot open WebSocket: ${(err as Error).message}`);
      }
      let refused: number | undefined;
      ws.onopen = () => on.open?.();
      ws.onmessage = (ev) => on.frame(typeof ev.data === 'string' ? ev.data : String(ev.data));
      ws.onerror = (ev) => {
        refused ??= refusedStatus(ev);
        on.error?.(ev);
      };
      ws.onclose = (ev) =>
        on.close({ code: ev.code, reason: ev.reason, refused: refused ? { status: refused } : undefined });
      return {
        send(text) {
          if (ws.readyState !== OPEN) return false;
          ws.send(text);
          return true;
        },
        close: (code, reason) => ws.close(code, reason),
        // Tests reach the socket through here to cut or pause the TCP connection (test/helpers/client-socket.ts).
        socket: ws,
      } as TransportConnection;
    },
  };
}
