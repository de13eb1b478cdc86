/**
 * Hub options, their defaults, and the validation that turns a bad option into an error naming
 * the option and what it accepts.
 * @module
 */
import { checkChannel, MAX_CHANNEL_BYTES } from './channel-name.js';
import type { Engine } from './engine.js';
import type { MetricsOptions } from './instruments.js';
import type { AuthGrant } from './grant.js';
import { optionError } from './errors.js';
import { isIntIn } from './integers.js';
import type { AuthRequest } from './transport.js';
import type { RefreshRequest } from './refresh.js';

/** Per-connection and per-message limits. Every limit has a safe, non-zero default. */
export interface Limits {
  /** Largest `data` of one publish (client, `hub.publish()` and the HTTP API), in bytes of JSON (default 65,536). Error 104. */
  maxMessageBytes: number;
  /** Subscriptions one connection may hold (default 128). Error 105. */
  maxChannelsPerConnection: number;
  /** Longest channel name in bytes (default and maximum 255). Error 103. */
  maxChannelBytes: number;
  /**
   * Bytes queued for one connection before QoS 0 messages to it are dropped and QoS 1
   * deliveries pause (default 1 MiB). See `slowConsumerTimeout`.
   */
  queueHighWaterBytes: number;
  /** Hard cap of bytes queued for one connection: above it the connection is closed at once with 3002 (default 8 MiB). */
  maxQueuedBytes: number;
  /** Milliseconds a connection may stay above `queueHighWaterBytes` before it is closed with 3002 (default 10,000). */
  slowConsumerTimeout: number;
  /** Publishes per second one connection may make, as a token bucket with this burst (default 100). Error 106. */
  publishesPerSecond: number;
  /** Milliseconds `authenticate` may take before the upgrade is refused with HTTP 503 (default 10,000). */
  authTimeout: number;
  /** Invalid frames a connection may send before it is closed with 3500 (default 10). */
  maxBadFrames: number;
  /** Deepest nesting of arrays/objects in published data (default 32). Error 101 [PUB-4]. */
  maxDepth: number;
  /** QoS 1 deliveries sent but not yet acknowledged per subscription (default 256); beyond it delivery pauses. */
  inflightWindow: number;
  /** Most messages one history request returns (default 1,000). */
  maxHistoryLimit: number;
  /**
   * Most members one presence request returns (default 1,000); a longer list is cut and carries
   * `truncated: true`. Bounds the size of a presence reply whatever the audience.
   */
  maxPresenceMembers: number;
  /**
   * Largest JSON of one member's `presenceInfo` result, in bytes (default 1,024). A larger result
   * makes that connection's subscribe to presence channels fail with 200 and is logged.
   */
  maxPresenceInfoBytes: number;
  /**
   * Pattern subscriptions (`chat.*`, `orders.>`) one connection may hold (default 32), counted
   * within `maxChannelsPerConnection`. Error 118.
   */
  maxPatternsPerConnection: number;
  /**
   * Distinct patterns subscribed on this hub across all connections (default 256). Matching a
   * published channel costs at most this many short scans whatever the patterns are (measured in
   * `bench/patterns.ts`); a subscribe to a pattern nobody uses yet beyond it gets error 119, one
   * to a pattern already in use is accepted.
   */
  maxPatternsPerHub: number;
  /**
   * Open connections this hub accepts (default 50,000). Beyond it an upgrade is refused with
   * HTTP 503 before the handshake (the SDK retries with backoff).
   */
  maxConnections: number;
}

/** History kept for a channel. */
export interface HistoryOptions {
  /** Messages kept per channel (default 100). */
  size?: number;
  /** Milliseconds a message is kept (default 300,000 = 5 minutes). */
  ttl?: number;
  /** Most messages a resubscribe may replay; more missed than this gives `recovered: false` (default 1,000). */
  recoveryCap?: number;
}

/** A rule for channels matching `match` (first matching rule wins). */
export interface ChannelRule {
  /** Exact channel or pattern (`chat.*`, `orders.>`) the rule applies to. */
  match: string;
  /** Whether clients may publish to these channels (default false: only the server publishes). */
  clientPublish?: boolean;
  /** History settings, or `false` to keep none (then no recovery, history or QoS 1 delivery). */
  history?: HistoryOptions | false;
  /**
   * Whether the `authorize` hook runs for these channels (default true). Set false for public
   * channels to skip the hook on their hot path. Pattern subscriptions always run the hook.
   */
  authorize?: boolean;
  /**
   * Whether these channels track presence (default false): every connection with an exact
   * subscription is a member, clients may ask who is there and receive join/leave events.
   * Applies to exact channels only; pattern subscriptions never join. See docs/presence.md.
   */
  presence?: boolean;
  /**
   * Whether these channels also keep presence by user (default false; needs `presence: true`):
   * a user with several connections is one member with a connection count, joining with its
   * first connection and leaving with its last. Users are told apart by the `userId` option;
   * connections without a user id count only at the connection level. See docs/presence.md.
   */
  userPresence?: boolean;
}

/** What an `authorize` hook is asked; `User` is what `authenticate` returns. */
export interface AuthorizeRequest<User = unknown> {
  action: 'subscribe' | 'publish' | 'history' | 'presence';
  channel: string;
  /**
   * What `authenticate` returned for this connection (undefined without `authenticate`, and for
   * server-side reads without `asUser`).
   */
  user: User;
  /** Connection id; `'server'` for `hub.history(channel, { asUser })`. */
  connectionId: string;
}

/** A logger with the pino/console shape; switchyard logs structured objects and never tokens. */
export interface Logger {
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

/**
 * What an `authenticate` hook returns (or resolves with): the user to accept the connection as
 * (bare, or wrapped by `grant()` with an expiry and server-side channels), or
 * `null`/`undefined`/`false` to refuse it with 401.
 */
export type AuthResult<User> = User | AuthGrant<User> | null | undefined | false;

/**
 * Options of `new Switchyard()`. All optional. `User` is what `authenticate` returns; it is
 * inferred from the hook (`new Switchyard({ authenticate: async () => ({ id: 'a' }) })` is a
 * `Switchyard<{ id: string }>`) or given explicitly (`new Switchyard<MyUser>(...)`), and types
 * `user` in `authorize` and `presenceInfo`.
 */
export interface SwitchyardOptions<User = unknown> {
  /** Storage and broker (default: the in-memory engine). */
  engine?: Engine;
  /** Default history for channels no rule overrides. */
  history?: HistoryOptions;
  /** Per-channel rules; the first whose `match` matches a channel applies. */
  channels?: ChannelRule[];
  /**
   * Runs before the WebSocket handshake completes. Return the user (any value except
   * `null`/`undefined`/`false`) to accept; return `null`/`undefined`/`false` to refuse with
   * HTTP 401; throw `new SwitchyardError('FORBIDDEN')` to refuse with 403. Any other throw
   * refuses with 500 and is logged. Default: everyone is accepted with user `undefined`.
   *
   * `req.raw` is the framework's request, whose type depends on the adapter the hub is attached
   * with, so annotate the parameter with that adapter's alias to use it:
   * `authenticate: ({ raw }: ExpressAuthRequest) => raw.session.user ?? null`. Unannotated, `raw`
   * is `never` (every other field is typed).
   */
  // `never`: a hook declared for any adapter's request type is accepted; its annotation says which.
  authenticate?: (req: AuthRequest<never>) => AuthResult<User> | Promise<AuthResult<User>>;
  /**
   * Runs on every subscribe (including resubscribes during recovery), publish, history read and
   * presence request.
   * Return true to allow. A throw or rejection denies and is logged. Default: allow.
   */
  authorize?: (req: AuthorizeRequest<User>) => boolean | Promise<boolean>;
  /**
   * Allowed `Origin` header values, `'*'` for any, or a function. Default: requests without an
   * Origin (non-browser clients) and browser requests whose Origin host equals the Host header
   * and whose scheme is the request's (`https` over TLS or with `X-Forwarded-Proto: https`).
   * A refused origin gets HTTP 403 before the handshake.
   */
  allowedOrigins?: string[] | '*' | ((origin: string) => boolean);
  /** Limits; each omitted field keeps its default. */
  limits?: Partial<Limits>;
  /** Milliseconds between heartbeats (default 25,000). A peer silent for two intervals is terminated. */
  heartbeatInterval?: number;
  /** Milliseconds `close()` waits for clients to finish the close handshake before terminating them (default 5,000). */
  closeTimeout?: number;
  /** Logger (default: none). */
  logger?: Logger;
  /**
   * What other clients see about a member of a presence channel: called once per connection with
   * what `authenticate` returned; its result (a JSON value of at most
   * `limits.maxPresenceInfoBytes`) is the member's `info`. Default: no info, so the user object,
   * which may hold secrets, is never exposed. A throw, a non-JSON result or an oversized one
   * fails that connection's subscribes to presence channels with 200 and is logged.
   */
  presenceInfo?: (user: User) => unknown;
  /**
   * Re-authenticates an open connection with the token its client sent in a `refresh` frame
   * (docs/identity.md). Returns like `authenticate`: the user (or a `grant()` with a new expiry and
   * server-side channels) accepts; `null`/`undefined`/`false` or a throw refuses with 120 and the
   * connection keeps its old expiry. Limited by `limits.authTimeout`. Default: `authenticate` runs
   * again with the new token, the original request's `url` and `remoteAddress`, and no headers.
   */
  refresh?: (req: RefreshRequest<User>) => unknown;
  /**
   * Milliseconds before a connection's expiry at which the server asks its client for a fresh
   * token (default 30,000); for a token living less than twice this, halfway through its life.
   */
  refreshLead?: number;
  /**
   * The id under which `hub.disconnect({ user })`, `hub.unsubscribe()` and `hub.refreshUser()` find
   * a user's connections. Default: the user itself when it is a string or number, else its `id`
   * property when that is a string or number; a user without an id cannot be targeted.
   */
  userId?: (user: User) => string | number | undefined;
  /**
   * Latency histograms, per-channel-family counters and event-loop delay (docs/operations.md).
   * `false` keeps only the counters and gauges. Default `true` (`{ sampleEvery: 64, eventLoop: true }`):
   * the delivery path pays a counter per message and times one message in `sampleEvery`.
   */
  metrics?: boolean | MetricsOptions;
}

/** Default limits. */
export const DEFAULT_LIMITS: Readonly<Limits> = Object.freeze({
  maxMessageBytes: 65_536,
  maxChannelsPerConnection: 128,
  maxChannelBytes: MAX_CHANNEL_BYTES,
  queueHighWaterBytes: 1 << 20,
  maxQueuedBytes: 8 << 20,
  slowConsumerTimeout: 10_000,
  publishesPerSecond: 100,
  authTimeout: 10_000,
  maxBadFrames: 10,
  maxDepth: 32,
  inflightWindow: 256,
  maxHistoryLimit: 1_000,
  maxPresenceMembers: 1_000,
  maxPresenceInfoBytes: 1_024,
  maxPatternsPerConnection: 32,
  maxPatternsPerHub: 256,
  maxConnections: 50_000,
});

/** Default history. */
export const DEFAULT_HISTORY: Readonly<Required<HistoryOptions>> = Object.freeze({
  size: 100,
  ttl: 300_000,
  recoveryCap: 1_000,
});

/** Options after defaults were applied and everything was checked. */
export interface ResolvedOptions {
  limits: Limits;
  history: Required<HistoryOptions>;
  channels: Array<{
    match: string;
    clientPublish: boolean;
    authorize: boolean;
    presence: boolean;
    userPresence: boolean;
    history: Required<HistoryOptions> | false;
  }>;
  heartbeatInterval: number;
  closeTimeout: number;
  refreshLead: number;
}

const KNOWN = new Set([
  'engine',
  'history',
  'channels',
  'authenticate',
  'authorize',
  'allowedOrigins',
  'limits',
  'heartbeatInterval',
  'closeTimeout',
  'logger',
  'presenceInfo',
  'refresh',
  'refreshLead',
  'userId',
  'metrics',
]);
const RULE_KEYS = ['match', 'clientPublish', 'history', 'authorize', 'userPresence', 'presence'];

function resolveHistory(path: string, h: unknown, base: Required<HistoryOptions>): Required<HistoryOptions> {
  if (h === undefined) return base;
  if (typeof h !== 'object' || h === null) throw optionError(path, 'an object {size, ttl, recoveryCap} or false', h);
  const out = { ...base };
  for (const [k, v] of Object.entries(h)) {
    if (k !== 'size' && k !== 'ttl' && k !== 'recoveryCap')
      throw optionError(`${path}.${k}`, 'one of size, ttl, recoveryCap (unknown key)', v);
    if (!isIntIn(v, 1)) throw optionError(`${path}.${k}`, 'a positive integer', v);
    out[k] = v;
  }
  return out;
}

/** Applies defaults and validates; throws a `SwitchyardError` with code 150 naming the bad option. */
export function resolveOptions(o: SwitchyardOptions): ResolvedOptions {
  if (typeof o !== 'object' || o === null) throw optionError('options', 'an object', o);
  for (const k of Object.keys(o))
    if (!KNOWN.has(k))
      throw optionError(k, `one of ${[...KNOWN].join(', ')} (unknown option)`, (o as Record<string, unknown>)[k]);
  const limits: Limits = { ...DEFAULT_LIMITS };
  if (o.limits !== undefined) {
    if (typeof o.limits !== 'object' || o.limits === null) throw optionError('limits', 'an object', o.limits);
    for (const [k, v] of Object.entries(o.limits)) {
      if (!(k in DEFAULT_LIMITS))
        throw optionError(`limits.${k}`, `one of ${Object.keys(DEFAULT_LIMITS).join(', ')} (unknown limit)`, v);
      if (!isIntIn(v, 1)) throw optionError(`limits.${k}`, 'a positive integer', v);
      (limits as unknown as Record<string, number>)[k] = v;
    }
    if (limits.maxChannelBytes > MAX_CHANNEL_BYTES)
      throw optionError('limits.maxChannelBytes', `at most ${MAX_CHANNEL_BYTES}`, limits.maxChannelBytes);
    if (limits.maxQueuedBytes < limits.queueHighWaterBytes) {
      throw optionError(
        'limits.maxQueuedBytes',
        `at least limits.queueHighWaterBytes (${limits.queueHighWaterBytes})`,
        limits.maxQueuedBytes,
      );
    }
  }
  const history = resolveHistory('history', o.history, DEFAULT_HISTORY);
  const channels: ResolvedOptions['channels'] = [];
  if (o.channels !== undefined) {
    if (!Array.isArray(o.channels))
      throw optionError('channels', 'an array of {match, clientPublish?, history?}', o.channels);
    o.channels.forEach((r, i) => {
      const p = `channels[${i}]`;
      if (typeof r !== 'object' || r === null) throw optionError(p, 'an object {match, clientPublish?, history?}', r);
      const err = checkChannel(r.match, true);
      if (err) throw optionError(`${p}.match`, `a channel or pattern (${err})`, r.match);
      if (r.clientPublish !== undefined && typeof r.clientPublish !== 'boolean')
        throw optionError(`${p}.clientPublish`, 'a boolean', r.clientPublish);
      if (r.authorize !== undefined && typeof r.authorize !== 'boolean')
        throw optionError(`${p}.authorize`, 'a boolean', r.authorize);
      if (r.presence !== undefined && typeof r.presence !== 'boolean')
        throw optionError(`${p}.presence`, 'a boolean', r.presence);
      if (r.userPresence !== undefined && typeof r.userPresence !== 'boolean')
        throw optionError(`${p}.userPresence`, 'a boolean', r.userPresence);
      if (r.userPresence === true && r.presence !== true)
        throw optionError(`${p}.userPresence`, 'used together with presence: true', r.userPresence);
      for (const k of Object.keys(r)) {
        if (!RULE_KEYS.includes(k))
          throw optionError(
            `${p}.${k}`,
            `one of ${RULE_KEYS.join(', ')} (unknown key)`,
            (r as unknown as Record<string, unknown>)[k],
          );
      }
      channels.push({
        match: r.match,
        clientPublish: r.clientPublish ?? false,
        authorize: r.authorize ?? true,
        presence: r.presence ?? false,
        userPresence: r.userPresence ?? false,
        history: r.history === false ? false : resolveHistory(`${p}.history`, r.history, history),
      });
    });
  }
  for (const k of ['authenticate', 'authorize', 'presenceInfo', 'refresh', 'userId'] as const) {
    if (o[k] !== undefined && typeof o[k] !== 'function') throw optionError(k, 'a function', o[k]);
  }
  const ao = o.allowedOrigins;
  if (
    ao !== undefined &&
    ao !== '*' &&
    typeof ao !== 'function' &&
    !(Array.isArray(ao) && ao.every((x) => typeof x === 'string'))
  ) {
    throw optionError('allowedOrigins', "an array of origins like 'https://app.example.com', '*', or a function", ao);
  }
  const heartbeatInterval = o.heartbeatInterval ?? 25_000;
  if (!isIntIn(heartbeatInterval, 1))
    throw optionError('heartbeatInterval', 'a positive number of milliseconds', heartbeatInterval);
  const closeTimeout = o.closeTimeout ?? 5_000;
  if (!isIntIn(closeTimeout, 1)) throw optionError('closeTimeout', 'a positive number of milliseconds', closeTimeout);
  if (
    o.engine !== undefined &&
    (typeof o.engine !== 'object' || o.engine === null || !o.engine.storage || !o.engine.broker)
  ) {
    throw optionError('engine', 'an engine {storage, broker} such as memoryEngine() or redisEngine()', o.engine);
  }
  if (o.metrics !== undefined && typeof o.metrics !== 'boolean') {
    const m = o.metrics;
    if (typeof m !== 'object' || m === null)
      throw optionError('metrics', 'true, false or an object {sampleEvery?, eventLoop?}', m);
    for (const k of Object.keys(m))
      if (k !== 'sampleEvery' && k !== 'eventLoop')
        throw optionError(`metrics.${k}`, 'one of sampleEvery, eventLoop', k);
    if (m.sampleEvery !== undefined && !isIntIn(m.sampleEvery, 1))
      throw optionError('metrics.sampleEvery', 'a positive integer', m.sampleEvery);
    if (m.eventLoop !== undefined && typeof m.eventLoop !== 'boolean')
      throw optionError('metrics.eventLoop', 'true or false', m.eventLoop);
  }
  if (
    o.logger !== undefined &&
    (typeof o.logger !== 'object' || o.logger === null || typeof o.logger.warn !== 'function')
  ) {
    throw optionError('logger', 'a logger with debug/info/warn/error methods (pino, console)', o.logger);
  }
  const refreshLead = o.refreshLead ?? 30_000;
  if (!isIntIn(refreshLead, 1)) throw optionError('refreshLead', 'a positive number of milliseconds', refreshLead);
  return { limits, history, channels, heartbeatInterval, closeTimeout, refreshLead };
}

/** Whether channel `name` matches rule pattern `pattern` (segment-wise; no regex). */
export function matchesPattern(pattern: string, name: string): boolean {
  if (pattern === name) return true;
  const p = pattern.split('.');
  const n = name.split('.');
  for (let i = 0; i < p.length; i++) {
    if (p[i] === '>' && i === p.length - 1) return n.length > i;
    if (i >= n.length) return false;
    if (p[i] !== '*' && p[i] !== n[i]) return false;
  }
  return p.length === n.length;
}
