/**
 * What every part of a hub shares: its options, engine, counters, instruments, channel rules and
 * logger. The facade (`hub.ts`) builds one and hands it to each part, so the parts depend on this
 * interface and never on the facade (no import circles).
 * @module
 */
import type { ChannelRules } from './channel-rules.js';
import type { Engine } from './engine.js';
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
  readonly rules: ChannelRules;
  readonly presenceTracker: PresenceTracker;
  log(level: keyof Logger, obj: object, msg: string): void;
}
