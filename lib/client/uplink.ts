/**
 * Uplink awareness ([UP-*] in docs/protocol.md, docs/client.md): in a browser the SDK listens to
 * the network (`offline` / `online`) and to the page lifecycle (`visibilitychange` to visible,
 * `resume` after a freeze), so it stops spending reconnect attempts while there is no network,
 * reconnects the moment it returns, and checks a connection that may have died while the page
 * slept instead of waiting for the heartbeat. Outside a browser it does nothing.
 * @module
 */

/** Milliseconds a probe of a resumed page's connection waits for its reply ([UP-3]). */
export const PROBE_TIMEOUT_MS = 3_000;

type Win = {
  addEventListener(t: string, f: (e: Event) => void, capture: boolean): void;
  removeEventListener(t: string, f: (e: Event) => void, capture: boolean): void;
};

/** Whether the platform says there is no network now (false when it cannot tell). */
export function networkDown(): boolean {
  return typeof document !== 'undefined' && navigator.onLine === false;
}

/**
 * Calls `on(signal)` for `offline`, `online` and `resumed` (page visible again, or resumed from a
 * freeze) until the returned function is called. A no-op outside browsers (Node keeps timers only).
 */
export function watchUplink(on: (signal: 'offline' | 'online' | 'resumed') => void): () => void {
  if (typeof document === 'undefined') return () => {};
  const w = globalThis as unknown as Win;
  // Capturing on window sees the document's events (visibilitychange, resume) as well as its own.
  const listener = (e: Event): void => {
    if (e.type === 'offline' || e.type === 'online') on(e.type);
    else if (document.visibilityState === 'visible') on('resumed');
  };
  const types = ['offline', 'online', 'visibilitychange', 'resume'];
  for (const t of types) w.addEventListener(t, listener, true);
  return () => {
    for (const t of types) w.removeEventListener(t, listener, true);
  };
}
