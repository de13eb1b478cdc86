/**
 * What every part of a hub shares: its options, engine, counters, instruments, channel rules and
 * logger. The facade (`hub.ts`) builds one and hands it to each part, so the parts depend on this
 * interface and never on the facade (no import circles).
 * @module
 */
import type { ChannelRules } from './channel-rules.js';
import type { AppendOptions, AppendResult, Engine } from './engine.js';
import type { Instruments } from './instruments.js';
import type { HubCounters } from './metrics.js';
import type { Logger, ResolvedOptions, SwitchyardOptions } from './options.js';
import type { PresenceTracker } from './presence.js';

/** The state and services the parts of one hub share. @internal */
export interface HubContext {
  readonly options: ResolvedOptions;
  /** The options as the application passed them (its hooks). */
  readonly userOptions: SwitchyardOptions;
  readonly counters: HubCounters;
  readonly instruments: Instruments;
  /** The engine, its storage timed by the instruments. */
  readonly engine: Engine;
  /** Settles when the broker started; a broker that failed to start rejects it. */
  readonly ready: Promise<void>;
  /**
   * The in-memory store's synchronous append, set once the in-process broker started (the default
   * engine is synchronous end to end): a publish is then stored and fanned out before `publish()`
   * returns, instead of after every other publish of the same turn. Undefined for other engines;
   * returns undefined when the store's `append` was replaced (the publish then goes the usual way).
   */
  appendNow: ((channel: string, payload: string, options: AppendOptions) => AppendResult | undefined) | undefined;
  readonly rules: ChannelRules;
  readonly presenceTracker: PresenceTracker;
  log(level: keyof Logger, obj: object, msg: string): void;
}
