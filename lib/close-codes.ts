/**
 * WebSocket close codes and the reconnect policy they imply. Server and client import this one
 * table so they can never disagree about whether a close is worth reconnecting after.
 *
 * Ranges (docs/protocol.md §Close codes), the same rule in the library's range and the
 * applications' range:
 * - 1000–2999: RFC 6455 codes; the client reconnects except after 1000 it initiated itself,
 *   1002 (protocol error), 1003, 1007, 1008, 1009 and 1010 which are terminal.
 * - 3000–3499: switchyard's own "reconnect" codes: a transient condition, reconnect with backoff.
 * - 3500–3999: switchyard's own "terminal" codes: reconnecting would fail the same way; stop.
 * - 4000–4499: application codes (`hub.disconnect(target, code)`) that make the client reconnect.
 * - 4500–4999: application codes that make the client stop.
 * @module
 */

/** Close codes switchyard sends (every one is sent by the server or reported by the client). */
export const CLOSE = {
  /** Server shutting down or restarting (RFC 6455 "going away"). */
  GOING_AWAY: 1001,
  /** The peer stopped answering heartbeats. */
  HEARTBEAT_TIMEOUT: 3001,
  /** The connection's send queue stayed above the limit; it could not keep up. */
  SLOW_CONSUMER: 3002,
  /** The server lost state it needs for this connection (history unreadable); reconnect and recover. */
  INSUFFICIENT_STATE: 3003,
  /** The connection's credentials expired without a successful refresh: fetch a new token and reconnect. */
  TOKEN_EXPIRED: 3010,
  /** Too many invalid frames: the client is broken or hostile. */
  TOO_MANY_ERRORS: 3500,
  /** The server ended the session on purpose (`hub.disconnect()`'s default), or the client after an HTTP 400/401/403 upgrade refusal. */
  KICKED: 3502,
  /** Client side: no credentials — the app's token provider returned `null` (or failed while `reconnect` is off); the client stops. Never sent by a server. */
  NO_TOKEN: 3510,
  /** [TR-5] `authenticate` refused a browser client that asked to be told (the reason says 401 or 403); reconnecting would be refused the same way. */
  AUTH_REFUSED: 3520,
} as const;

/** Names of the codes in {@link CLOSE}. */
export type CloseName = keyof typeof CLOSE;

/** Largest close reason in bytes allowed by RFC 6455 (125 minus the 2-byte code). */
export const MAX_CLOSE_REASON_BYTES = 123;

const encoder = new TextEncoder();
const utf8Length = (s: string): number => encoder.encode(s).length;

const TERMINAL_RFC = new Set([1002, 1003, 1007, 1008, 1009, 1010]);

/**
 * Whether a client should reconnect after the server closed with `code`: by range, so codes
 * added later (and every application code) follow the rule without a table change. The upper
 * half of each private range (3500–3999 and 4500–4999) stops; everything else reconnects
 * except the terminal RFC codes.
 */
export function shouldReconnect(code: number): boolean {
  if ((code >= 3500 && code <= 3999) || (code >= 4500 && code <= 4999)) return false;
  if (TERMINAL_RFC.has(code)) return false;
  return true;
}

/**
 * Truncates a close reason to at most {@link MAX_CLOSE_REASON_BYTES} UTF-8 bytes without
 * splitting a character (a split surrogate pair or multi-byte sequence makes `ws` throw).
 */
export function capCloseReason(reason: string): string {
  if (utf8Length(reason) <= MAX_CLOSE_REASON_BYTES) return reason;
  let out = '';
  let bytes = 0;
  for (const ch of reason) {
    const n = utf8Length(ch);
    if (bytes + n > MAX_CLOSE_REASON_BYTES) break;
    out += ch;
    bytes += n;
  }
  return out;
}
