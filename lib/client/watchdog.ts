/**
 * Notices a server that stopped talking: every frame counts as a sign of life; after about twice
 * the server's heartbeat interval (`hb` in `welcome`) plus a second without one, `onSilent` runs.
 * (A closure, not a class: its names minify, and the browser bundle has a budget.)
 * @module
 */

export interface Watchdog {
  /** A frame arrived. */
  touch(): void;
  /** Starts (or restarts) watching with the server's heartbeat interval in ms. */
  arm(heartbeat: number): void;
  stop(): void;
}

export function watchdog(onSilent: () => void, now: () => number = Date.now): Watchdog {
  let timer: ReturnType<typeof setTimeout> | undefined;
  let lastFrameAt = 0;
  const stop = (): void => clearTimeout(timer);
  return {
    touch: () => void (lastFrameAt = now()),
    arm(heartbeat) {
      stop();
      const limit = heartbeat * 2 + 1_000;
      const check = (): void => {
        const idle = now() - lastFrameAt;
        if (idle >= limit) return onSilent();
        timer = setTimeout(check, limit - idle);
      };
      timer = setTimeout(check, limit);
    },
    stop,
  };
}
