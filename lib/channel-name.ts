/**
 * Channel-name rules ([CH-1]..[CH-5] in docs/protocol.md). One fixed regular expression per
 * kind; nothing here builds a pattern from user input.
 * @module
 */

/** Longest channel name accepted, in bytes. Names are ASCII, so bytes equal characters. */
export const MAX_CHANNEL_BYTES = 255;

// [CH-1] segments of A–Z a–z 0–9 _ - : @ =, separated by single dots, no empty segment.
const EXACT = /^[A-Za-z0-9_\-:@=]+(?:\.[A-Za-z0-9_\-:@=]+)*$/;
// [CH-3] a pattern may use "*" as a whole segment and ">" as the whole last segment.
const PATTERN = /^(?:[A-Za-z0-9_\-:@=]+|\*)(?:\.(?:[A-Za-z0-9_\-:@=]+|\*))*(?:\.>)?$|^>$/;

/** Whether `name` contains wildcard segments. Assumes {@link checkChannel} already passed. */
export function isPattern(name: string): boolean {
  return name.includes('*') || name.includes('>');
}

/**
 * Returns `undefined` when `name` is valid, else a sentence saying which rule failed.
 * @param allowPattern whether `*` and `>` segments are allowed (subscriptions yes, publishes no).
 * @param maxBytes the limit in force (`limits.maxChannelBytes`, at most 255).
 */
export function checkChannel(name: unknown, allowPattern: boolean, maxBytes = MAX_CHANNEL_BYTES): string | undefined {
  if (typeof name !== 'string') return '[CH-1] channel must be a string';
  if (name.length === 0) return '[CH-1] channel must not be empty';
  if (name.length > maxBytes) return `[CH-2] channel is longer than ${maxBytes} bytes`;
  if (EXACT.test(name)) return undefined;
  if (allowPattern && PATTERN.test(name)) return undefined;
  if (!allowPattern && PATTERN.test(name)) return '[CH-4] wildcards are only allowed when subscribing';
  return '[CH-1] channel segments use A-Z a-z 0-9 _ - : @ = separated by single dots';
}
