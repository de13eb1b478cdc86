/**
 * Capability maps: which actions a token allows on which channels, e.g.
 * `{ "chat.*": ["subscribe", "publish"], "user.42": ["subscribe", "history", "presence"] }`.
 * Pure logic with no token library, so the core can enforce what `switchyardjs/jwt` decoded.
 * @module
 */
import { checkChannel, isPattern } from './channel-name.js';
import { optionError } from './errors.js';
import { matchesPattern, type AuthorizeRequest } from './options.js';

/** An action a capability can allow (the `action` of an `authorize` request). */
export type Capability = AuthorizeRequest['action'];

/** Channel or pattern → allowed actions. */
export type CapabilityMap = Readonly<Record<string, readonly Capability[]>>;

const ACTIONS: readonly Capability[] = ['subscribe', 'publish', 'history', 'presence'];
/** Most entries one capability map may have (bounds the work of every authorize call). */
export const MAX_CAPABILITIES = 64;

/**
 * Checks a capability map from an untrusted source (a token's claims) and returns a frozen copy.
 * @throws SwitchyardError (150) naming the bad entry.
 */
export function parseCapabilities(value: unknown, path = 'capabilities'): CapabilityMap {
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw optionError(path, 'an object of channel pattern → actions', value);
  const entries = Object.entries(value);
  if (entries.length > MAX_CAPABILITIES) throw optionError(path, `at most ${MAX_CAPABILITIES} entries`, entries.length);
  const out: Record<string, readonly Capability[]> = Object.create(null);
  for (const [pattern, actions] of entries) {
    const err = checkChannel(pattern, true);
    if (err) throw optionError(`${path}[${pattern}]`, `a channel or pattern (${err})`, pattern);
    if (!Array.isArray(actions) || !actions.every((a) => ACTIONS.includes(a)))
      throw optionError(`${path}[${pattern}]`, `an array of ${ACTIONS.join(', ')}`, actions);
    out[pattern] = Object.freeze([...actions]);
  }
  return Object.freeze(out);
}

/** Whether capability pattern `key` covers every channel that subscription pattern `pattern` can match. */
export function patternCovers(key: string, pattern: string): boolean {
  const k = key.split('.');
  const p = pattern.split('.');
  for (let i = 0; i < k.length; i++) {
    if (k[i] === '>' && i === k.length - 1) return p.length > i;
    if (i >= p.length) return false;
    if (p[i] === '>') return false; // a wider pattern than the key allows
    if (k[i] !== '*' && k[i] !== p[i]) return false;
  }
  return p.length === k.length;
}

/**
 * Whether `caps` allows `action` on `channel`. An exact channel is allowed when any entry's
 * pattern matches it; a subscription pattern only when an entry covers all it can match (so
 * `chat.>` allows subscribing `chat.*`, but `chat.lobby` does not allow `chat.*`).
 */
export function allows(caps: CapabilityMap, action: Capability, channel: string): boolean {
  const pattern = isPattern(channel);
  for (const [key, actions] of Object.entries(caps)) {
    if (!actions.includes(action)) continue;
    if (pattern ? patternCovers(key, channel) : matchesPattern(key, channel)) return true;
  }
  return false;
}
