/**
 * A mirror of the server's per-connection publish token bucket (`limits.publishesPerSecond`,
 * announced as `pr` in `welcome`), so paced sends never earn a 106 RATE_LIMITED.
 * @module
 */
import { isIntIn } from '../integers.js';

/** Publish rate assumed until the server announces its own in `welcome` (`pr`): the server's default `limits.publishesPerSecond`. */
export const DEFAULT_PUBLISH_RATE = 100;

/** Token bucket refilled at `rate` per second, holding at most `rate` tokens. */
export interface PublishPacer {
  /** A new connection: the server starts it with a full bucket of `rate` (when given and valid), so the mirror does too. */
  reset(rate?: number): void;
  /** Takes one token; false (and takes nothing) when the bucket holds less than one. */
  take(): boolean;
  /** Milliseconds until the next token (at least 1). */
  wait(): number;
  /** The server answered 106: its bucket is empty, so is ours. */
  empty(): void;
}

export function publishPacer(now: () => number = () => performance.now()): PublishPacer {
  let rate = DEFAULT_PUBLISH_RATE;
  let tokens = rate;
  let at = 0;
  return {
    reset(r) {
      if (isIntIn(r, 1)) rate = r;
      tokens = rate;
      at = now();
    },
    take() {
      const t = now();
      tokens = Math.min(rate, tokens + ((t - at) * rate) / 1000);
      at = t;
      if (tokens < 1) return false;
      tokens -= 1;
      return true;
    },
    wait: () => Math.max(1, Math.ceil(((1 - tokens) * 1000) / rate)),
    empty: () => void (tokens = 0),
  };
}
