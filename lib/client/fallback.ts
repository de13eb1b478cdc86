/**
 * Transport fallback ([HS-9], docs/transports.md): one connection attempt tries the transports in
 * the configured order and uses the first that opens. A transport that failed before opening is
 * skipped by later attempts for a while (`retryAfter`), then tried first again, so a client that
 * fell back to HTTP streaming returns to WebSockets once the network lets it.
 * @module
 */
import type { ClientTransport, TransportConnection } from './transport.js';

/** A transport with a name for `client.transport` and for the `transports` option. */
export interface NamedTransport extends ClientTransport {
  readonly name: string;
  /**
   * Builds the fallback chain of the `transports` option. Carried by the optional transports
   * (not the main bundle), since only they make a chain necessary. @internal
   */
  readonly chain?: (transports: readonly unknown[], websocket: ClientTransport, openTimeout: number) => NamedTransport;
}

/**
 * A transport that tries `list` in order on each connection attempt: the first that opens is
 * used; one that closes before opening (or stays silent for `openTimeout` ms) hands the attempt
 * to the next and is skipped for `retryAfter` ms. What the last one reports is what the client
 * sees. Its `name` is the name of the transport of the latest connection that opened.
 */
export function fallbackTransport(
  list: readonly NamedTransport[],
  openTimeout: number,
  retryAfter: number,
): NamedTransport & { name: string } {
  // Per transport: performance.now() until which it is skipped (it failed to open on its last try).
  const skipUntil = list.map(() => 0);
  const self: NamedTransport & { name: string } = {
    name: list[0]!.name,
    checkUrl: (url) => list[0]!.checkUrl?.(url),
    open(url, token, on) {
      let current: TransportConnection | undefined;
      let closedByUs = false;
      const attempt = (i: number): void => {
        const last = i === list.length - 1;
        let opened = false;
        let conn: TransportConnection | undefined;
        const timer = last ? undefined : setTimeout(() => conn?.close(1000, 'open timeout'), openTimeout);
        try {
          conn = list[i]!.open(url, token, {
            open: () => {
              opened = true;
              clearTimeout(timer);
              skipUntil[i] = 0;
              self.name = list[i]!.name;
              on.open?.();
            },
            frame: (text) => on.frame(text),
            // Errors of an attempt that falls back are that attempt's business; the last one's are the client's.
            error: (err) => void ((opened || last) && on.error?.(err)),
            close: (info) => {
              clearTimeout(timer);
              if (!opened && !last && !closedByUs) {
                skipUntil[i] = performance.now() + retryAfter;
                return attempt(i + 1);
              }
              on.close(info);
            },
          });
        } catch (err) {
          clearTimeout(timer);
          if (!last) return attempt(i + 1);
          throw err;
        }
        current = conn;
      };
      const now = performance.now();
      const first = skipUntil.findIndex((t) => t <= now);
      attempt(first === -1 ? list.length - 1 : first);
      return {
        send: (text) => current?.send(text) ?? false,
        close(code, reason) {
          closedByUs = true;
          current?.close(code, reason);
        },
      };
    },
  };
  return self;
}
