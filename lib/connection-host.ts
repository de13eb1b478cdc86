/**
 * What a {@link Connection} needs from the hub that accepted it: limits, rules, authorization,
 * the subscription registry, storage and the shutdown/congestion bookkeeping. Declared apart
 * from the hub so a connection never imports the hub (no import circle), and so tests can host
 * a connection on a fake.
 * @module
 */
import type { ResolvedRule } from './channel-rules.js';
import type { Subscription } from './delivery.js';
import type { Storage } from './engine.js';
import type { Instruments } from './instruments.js';
import type { HubCounters } from './metrics.js';
import type { AuthorizeRequest, Logger, ResolvedOptions } from './options.js';
import type { PresenceTracker } from './presence.js';
import type { Position } from './engine.js';
import type { PublishResult, RefreshFrame } from './protocol.js';

/** The hub as one connection sees it; `C` is the connection type (kept generic to avoid a circle). @internal */
export interface ConnectionHost<C> {
  readonly options: ResolvedOptions;
  readonly counters: HubCounters;
  readonly instruments: Instruments;
  readonly presenceTracker: PresenceTracker;
  readonly storage: Storage;
  log(level: keyof Logger, obj: object, msg: string): void;
  /** The channel rule that applies to an exact channel. */
  rule(channel: string): ResolvedRule;
  /** Runs `authorize` for the connection's user; a throw denies. */
  authorized(action: AuthorizeRequest['action'], channel: string, conn: C): Promise<boolean>;
  /** Reserves room under `limits.maxPatternsPerHub` while a pattern subscribe is pending; false when full. */
  reservePattern(pattern: string): boolean;
  releasePattern(pattern: string): void;
  /** Puts a subscription in the router and waits for the broker's interest. */
  addSubscription(sub: Subscription): Promise<void>;
  /** Takes a subscription out of the router (idempotent). */
  removeSubscription(sub: Subscription): void;
  /** Catches a subscription up from history unless it already is. */
  startCatchUp(sub: Subscription): void;
  /** Stores and broadcasts one serialized payload. */
  publishPayload(channel: string, payload: string, idempotencyKey?: string): Promise<PublishResult>;
  /** A history page as the JSON text of a `HistoryResult`. */
  historyText(channel: string, since: Position | undefined, limit: number | undefined): Promise<string>;
  /** Logs a publish refused by the rate limit (sparsely). */
  rateLimitedPublish(conn: C): void;
  /** The connection's queue went above the high-water mark: watch it until it drains. */
  markCongested(conn: C): void;
  connectionClosed(conn: C, code: number): void;
  /** Handles a `refresh` frame. */
  refreshConnection(conn: C, f: RefreshFrame): Promise<void>;
}
