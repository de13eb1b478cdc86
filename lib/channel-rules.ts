/**
 * Resolves which channel rule applies to an exact channel (first match wins), cached per
 * channel in an LRU so the hot path does one map lookup instead of matching every rule.
 * @module
 */
import { LRUCache } from 'lru-cache';
import { matchesPattern, type ResolvedOptions } from './options.js';

/** The settings that apply to one exact channel. */
export interface ResolvedRule {
  clientPublish: boolean;
  authorize: boolean;
  presence: boolean;
  userPresence: boolean;
  history: ResolvedOptions['history'] | false;
  /** The metrics label of the channel's family: the matching rule's `match`, or `(default)`. */
  family: string;
}

/** Channels whose resolved rule is remembered; the least recently used are recomputed. */
const CACHED_CHANNELS = 10_000;

/** The hub's channel rules. */
export class ChannelRules {
  private readonly cache = new LRUCache<string, ResolvedRule>({ max: CACHED_CHANNELS });
  private readonly fallback: ResolvedRule;

  constructor(private readonly options: Pick<ResolvedOptions, 'channels' | 'history'>) {
    this.fallback = {
      clientPublish: false,
      authorize: true,
      presence: false,
      userPresence: false,
      history: options.history,
      family: '(default)',
    };
  }

  /** The rule for an exact channel: the first whose `match` matches, else the defaults. */
  for(channel: string): ResolvedRule {
    let r = this.cache.get(channel);
    if (r) return r;
    const found = this.options.channels.find((c) => matchesPattern(c.match, channel));
    r = found
      ? {
          clientPublish: found.clientPublish,
          authorize: found.authorize,
          presence: found.presence,
          userPresence: found.userPresence,
          history: found.history,
          family: found.match,
        }
      : this.fallback;
    this.cache.set(channel, r);
    return r;
  }
}
