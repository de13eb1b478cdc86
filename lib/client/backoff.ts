/** Reconnect delays. @module */

/**
 * Full-jitter exponential backoff: a uniformly random delay between 0 and
 * `min(maxDelay, minDelay * 2^attempt)`, never below `minDelay / 2`, so a server restart is not
 * met by every client at the same instant.
 */
export function backoffDelay(
  attempt: number,
  minDelay: number,
  maxDelay: number,
  random: () => number = Math.random,
): number {
  const ceiling = Math.min(maxDelay, minDelay * 2 ** Math.min(attempt, 30));
  return Math.max(minDelay / 2, Math.floor(random() * ceiling));
}
