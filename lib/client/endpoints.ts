/**
 * The endpoints a client connects to, and which one the next attempt uses. With several endpoints
 * (nodes of a cluster) each reconnect moves to the next one, so a dead node costs one attempt;
 * every node serves the same streams, so recovery works on any. A smarter choice (the nearest
 * region first: `nearestEndpoint()` of `switchyardjs/client/nearest`) is passed to `connect()`
 * instead of the URLs.
 * @module
 */

export interface Endpoints {
  /** Every endpoint, in the order given. */
  readonly all: readonly string[];
  /** The endpoint of the current (or, before the first attempt, the next) connection attempt. */
  readonly current: string;
  /** Moves on to the endpoint the next attempt should try after `current` failed or closed, and returns it. */
  next(): string;
  /** Called before every connection attempt (first and reconnects): may re-pick `current`, e.g. after measuring. */
  choose?(): Promise<void>;
}

/** Round-robin over a non-empty list of endpoint URLs (validated by the caller: options.ts). */
export function roundRobin(urls: readonly string[]): Endpoints {
  const all = [...urls];
  let i = 0;
  return {
    all,
    get current() {
      return all[i] as string;
    },
    next() {
      i = (i + 1) % all.length;
      return all[i] as string;
    },
  };
}
