/**
 * The hub: owns connections, subscriptions and the router, talks to the engine, and runs the
 * one timer that drives heartbeats and slow-consumer checks for every connection.
 * @module
 */
import { EventEmitter } from 'eventemitter3';
import { checkChannel } from './channel-name.js';
import { CLOSE } from './close-codes.js';
import { Connection } from './connection.js';
import { catchUp, SubState, type Subscription } from './delivery.js';
import type { BrokerMessage, Engine, Position, Storage, StoredMessage } from './engine.js';
import { memoryEngine } from './engine-memory.js';
import { optionError, SwitchyardError, errorMessage } from './errors.js';
import { resolveOptions, type AuthorizeRequest, type Logger, type ResolvedOptions, type SwitchyardOptions } from './options.js';
import { msgFrameText, type PresenceResult, type PublishResult } from './protocol.js';
import { PresenceTracker } from './presence.js';
import { MemoryPresence } from './presence-memory.js';
import { countBy, newCounters, type HubCounters, type HubMetrics } from './metrics.js';
import { Router } from './router.js';
import { originAllowed, runAuthenticate, type AuthOutcome } from './admission.js';
import { ChannelRules, type ResolvedRule } from './channel-rules.js';
import type { AuthRequest, ConnectionInput, Transport } from './transport.js';

/** Events a hub emits. */
export interface HubEvents {
  /** A client connected (after authentication). */
  connection: (info: { id: string; user: unknown }) => void;
  /** A client disconnected. */
  disconnect: (info: { id: string; code: number }) => void;
  /** The hub finished closing. */
  close: () => void;
}

export type { AuthOutcome } from './admission.js';

/** Options of {@link Switchyard.publish}. */
export interface PublishOptions {
  /** Makes the publish idempotent: a repeat with the same key inside the de-duplication window stores nothing and returns the first offset. */
  idempotencyKey?: string;
}

/** Options of {@link Switchyard.history}. */
export interface HistoryQuery {
  /** Return messages after this position (default: the latest `limit` messages). */
  since?: Position;
  /** Most messages to return (default 100, at most `limits.maxHistoryLimit`). */
  limit?: number;
  /**
   * Read on behalf of this user (e.g. in an HTTP route serving a logged-in user): the `authorize`
   * hook runs with action `history` and this user, and a denial rejects with 107 FORBIDDEN.
   * Without it the read is the server's own and is not authorized.
   */
  asUser?: unknown;
}

/** Options of {@link Switchyard.presence}. */
export interface PresenceQuery {
  /**
   * Ask on behalf of this user: the `authorize` hook runs with action `presence` and this user,
   * and a denial rejects with 107 FORBIDDEN. Without it the read is the server's own.
   */
  asUser?: unknown;
}

/** A history read on the server. */
export interface HistoryPage {
  messages: Array<{ offset: number; data: unknown }>;
  position: Position;
  /** False when `since` was given but history no longer covers it; messages then start at the oldest kept. */
  complete: boolean;
}

/**
 * A switchyard hub. Create one per process, attach it to your HTTP server with an adapter
 * (`switchyardjs/http`, `switchyardjs/express`, ...), and publish with {@link Switchyard.publish}.
 */
export class Switchyard extends EventEmitter<HubEvents> {
  /** Resolved options (defaults applied). @internal */
  readonly options: ResolvedOptions;
  /** Counters since the hub started. */
  readonly counters: HubCounters = newCounters();
  private readonly engine: Engine;
  /** @internal */
  readonly presenceTracker: PresenceTracker;
  private readonly userOptions: SwitchyardOptions;
  private readonly router = new Router<Subscription>();
  private readonly conns = new Map<string, Connection>();
  private readonly congestedConns = new Set<Connection>();
  private readonly interest = new Map<string, number>();
  private readonly interestReady = new Map<string, Promise<void>>();
  private readonly rules: ChannelRules;
  private readonly ready: Promise<void>;
  private readonly timer: ReturnType<typeof setInterval>;
  private heartbeatDue: number;
  private closing: Promise<void> | undefined;
  private onEmpty: (() => void) | undefined;

  /** @throws SwitchyardError (code 150) naming the invalid option. */
  constructor(options: SwitchyardOptions = {}) {
    super();
    this.options = resolveOptions(options);
    this.rules = new ChannelRules(this.options);
    this.userOptions = options;
    this.engine = options.engine ?? memoryEngine();
    this.ready = this.engine.broker.start({
      message: (m) => this.dispatch(m),
      interrupted: () => this.busInterrupted(),
    });
    this.ready.catch(() => {});
    const log = (level: keyof Logger, obj: object, msg: string): void => this.log(level, obj, msg);
    this.presenceTracker = new PresenceTracker(this.engine.presence ?? new MemoryPresence(), options.presenceInfo, this.options.limits.maxPresenceInfoBytes, log);
    if (options.engine && !options.engine.presence && this.options.channels.some((c) => c.presence)) {
      this.log('warn', {}, 'presence channels with an engine that has no presence store: each node sees only its own members');
    }
    this.heartbeatDue = performance.now() + this.options.heartbeatInterval;
    // One timer for the whole hub: a short tick for congested connections, a heartbeat round
    // every heartbeatInterval. Nothing is scheduled per connection or per message.
    this.timer = setInterval(() => this.tick(), Math.min(100, this.options.heartbeatInterval));
    this.timer.unref();
  }

  /** The storage in use. @internal */
  get storage(): Storage {
    return this.engine.storage;
  }

  /** Whether `close()` was called. Adapters refuse new upgrades then. */
  get isClosing(): boolean {
    return this.closing !== undefined;
  }

  /** Number of open connections. */
  get connectionCount(): number {
    return this.conns.size;
  }

  /** @internal */
  log(level: keyof Logger, obj: object, msg: string): void {
    this.userOptions.logger?.[level](obj, msg);
  }

  // ---------------------------------------------------------------- adapter API

  /**
   * Checks an upgrade's `Origin` header against `allowedOrigins` (see {@link SwitchyardOptions}).
   * Adapters call this before the handshake and answer 403 when it returns false.
   */
  originAllowed(origin: string | undefined, host: string | undefined): boolean {
    return originAllowed(this.userOptions.allowedOrigins, origin, host);
  }

  /**
   * Runs the `authenticate` option with `limits.authTimeout`. Adapters call this before
   * completing the handshake and answer with the returned HTTP status when it fails.
   */
  async authenticate(req: AuthRequest): Promise<AuthOutcome> {
    if (this.closing) return { ok: false, status: 503, reason: 'server shutting down' };
    const hook = this.userOptions.authenticate;
    if (!hook) return { ok: true, user: undefined };
    const outcome = await runAuthenticate(hook, req, this.options.limits.authTimeout, (err) =>
      this.log('error', { err: errorMessage(err) }, 'authenticate hook threw'),
    );
    if (!outcome.ok) countBy(this.counters.authFailures, outcome.status);
    return outcome;
  }

  /**
   * Hands an open, authenticated socket to the hub. Returns the callbacks the adapter must call
   * for each inbound message and when the socket closes.
   */
  accept(transport: Transport, user: unknown): ConnectionInput {
    const conn = new Connection(this, transport, user);
    if (this.closing) {
      transport.close(CLOSE.GOING_AWAY, 'server shutting down');
      conn.open = false;
      return conn;
    }
    this.conns.set(conn.id, conn);
    this.counters.connectionsAccepted++;
    conn.sendJson({ op: 'welcome', v: 1, cid: conn.id, hb: this.options.heartbeatInterval, win: this.options.limits.inflightWindow });
    this.emit('connection', { id: conn.id, user });
    return conn;
  }

  // ---------------------------------------------------------------- public API

  /**
   * Publishes `data` (any JSON value) to an exact channel. Resolves after the message is stored,
   * with its position. Rejects with a `SwitchyardError`: 103 for an invalid channel, 201 when
   * the engine is unavailable (nothing was stored), 202 when the hub is closing.
   */
  async publish(channel: string, data: unknown, options: PublishOptions = {}): Promise<PublishResult> {
    const err = checkChannel(channel, false, this.options.limits.maxChannelBytes);
    if (err) throw new SwitchyardError('BAD_CHANNEL', err);
    if (typeof options !== 'object' || options === null) throw optionError('publish options', 'an object {idempotencyKey?}', options);
    const key = options.idempotencyKey;
    if (key !== undefined && (typeof key !== 'string' || key.length === 0 || key.length > 64)) {
      throw optionError('idempotencyKey', 'a string of 1-64 characters', key);
    }
    if (data === undefined || typeof data === 'function' || typeof data === 'symbol') {
      throw optionError('data', 'a JSON value (object, array, string, number, boolean or null)', data);
    }
    let payload: string;
    try {
      payload = JSON.stringify(data);
    } catch (e) {
      throw optionError('data', `JSON-serializable (${(e as Error).message})`, typeof data);
    }
    if (this.closing) throw new SwitchyardError('SHUTTING_DOWN');
    return this.publishPayload(channel, payload, key);
  }

  /**
   * Reads a channel's history. Rejects with 103 for an invalid channel, 112 when the channel's
   * rule keeps no history, and 107 when `asUser` is given and `authorize` denies.
   */
  async history(channel: string, query: HistoryQuery = {}): Promise<HistoryPage> {
    await this.checkServerRead('history', channel, query, 'an object {since?, limit?, asUser?}');
    const page = await this.readHistory(channel, query.since, query.limit);
    return { messages: page.messages.map((m) => ({ offset: m.offset, data: JSON.parse(m.payload) })), position: page.position, complete: page.complete };
  }

  /**
   * Who is subscribed to a presence channel right now: at most `limits.maxPresenceMembers`
   * members (`truncated` says when there are more). Rejects with 103 for an invalid channel,
   * 117 when the channel's rule has no `presence: true`, 107 when `asUser` is given and
   * `authorize` denies, and 201 when the presence store is unreachable.
   */
  async presence(channel: string, query: PresenceQuery = {}): Promise<PresenceResult> {
    await this.checkServerRead('presence', channel, query, 'an object {asUser?}');
    if (!this.rule(channel).presence) throw new SwitchyardError('PRESENCE_DISABLED', `${channel} has no presence; add a channel rule with presence: true`);
    return this.presenceTracker.members(channel, this.options.limits.maxPresenceMembers);
  }

  /** Current position of a channel's stream (creates the stream, with a new epoch, if it has none). */
  async position(channel: string): Promise<Position> {
    const err = checkChannel(channel, false, this.options.limits.maxChannelBytes);
    if (err) throw new SwitchyardError('BAD_CHANNEL', err);
    const s = await this.engine.storage.state(channel);
    return { offset: s.offset, epoch: s.epoch };
  }

  /**
   * Closes one connection from the server side. `code` decides what the client does next
   * (docs/protocol.md §4): the default 4502 KICKED is terminal; a 4000–4499 code makes it
   * reconnect and recover. Returns false when no such connection is open here.
   */
  disconnect(connectionId: string, code: number = CLOSE.KICKED, reason = 'disconnected by server'): boolean {
    if (!(Number.isInteger(code) && (code === 1000 || code === 1001 || (code >= 4000 && code <= 4999)))) {
      throw optionError('code', '1000, 1001 or a code from 4000 to 4999 (see docs/protocol.md §4)', code);
    }
    const c = this.conns.get(connectionId);
    c?.close(code, reason);
    return c !== undefined;
  }

  /** A snapshot of counters and gauges; `prometheusText()` formats it for a scraper. */
  metrics(): HubMetrics {
    let subscriptions = 0;
    for (const c of this.conns.values()) subscriptions += c.subs.size;
    let channels = 0;
    for (const _ of this.router.channels()) channels++;
    const c = this.counters;
    return {
      ...c,
      authFailures: { ...c.authFailures },
      closes: { ...c.closes },
      connections: this.conns.size,
      subscriptions,
      channels,
      congestedConnections: this.congestedConns.size,
    };
  }

  /** Exact channels with local subscribers and their subscriber counts. */
  channels(): Array<{ channel: string; subscribers: number }> {
    const out: Array<{ channel: string; subscribers: number }> = [];
    for (const ch of this.router.channels()) out.push({ channel: ch, subscribers: this.router.exactSubscribers(ch)?.size ?? 0 });
    return out;
  }

  /**
   * Stops accepting connections, closes every client with 1001, waits up to `closeTimeout` ms
   * for their close handshakes, terminates what is left, then closes the engine. Idempotent.
   */
  close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  private async shutdown(): Promise<void> {
    this.presenceTracker.muted = true;
    const conns = [...this.conns.values()];
    const allClosed = new Promise<void>((resolve) => {
      this.onEmpty = resolve;
      if (this.conns.size === 0) resolve();
    });
    for (const c of conns) c.transport.close(CLOSE.GOING_AWAY, 'server shutting down');
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([allClosed, new Promise((r) => (timer = setTimeout(r, this.options.closeTimeout)))]);
    clearTimeout(timer);
    for (const c of [...this.conns.values()]) {
      c.transport.terminate();
      c.closed(CLOSE.GOING_AWAY);
    }
    clearInterval(this.timer);
    await this.engine.broker.close().catch(() => {});
    await this.engine.storage.close().catch(() => {});
    await this.presenceTracker.store.close().catch(() => {});
    this.emit('close');
  }

  // ---------------------------------------------------------------- internals used by Connection

  /** The channel rule that applies to an exact channel. @internal */
  rule(channel: string): ResolvedRule {
    return this.rules.for(channel);
  }

  /** Validates a server-side read and, when it is made `asUser`, authorizes it for that user. */
  private async checkServerRead(action: 'history' | 'presence', channel: string, query: { asUser?: unknown }, shape: string): Promise<void> {
    const err = checkChannel(channel, false, this.options.limits.maxChannelBytes);
    if (err) throw new SwitchyardError('BAD_CHANNEL', err);
    if (typeof query !== 'object' || query === null) throw optionError(`${action} query`, shape, query);
    if ('asUser' in query && !(await this.authorizedFor(action, channel, query.asUser, 'server'))) {
      throw new SwitchyardError('FORBIDDEN', `${action} of ${channel} denied`);
    }
  }

  /** Runs `authorize`; a throw denies. @internal */
  async authorized(action: AuthorizeRequest['action'], channel: string, conn: Connection): Promise<boolean> {
    return this.authorizedFor(action, channel, conn.user, conn.id);
  }

  private async authorizedFor(action: AuthorizeRequest['action'], channel: string, user: unknown, connectionId: string): Promise<boolean> {
    const hook = this.userOptions.authorize;
    if (!hook) return true;
    if (!(channel.includes('*') || channel.includes('>')) && !this.rule(channel).authorize) return true;
    try {
      return (await hook({ action, channel, user, connectionId })) === true;
    } catch (err) {
      this.log('warn', { err: errorMessage(err), action, channel }, 'authorize hook threw; denied');
      return false;
    }
  }

  /** Stores and broadcasts one serialized payload. @internal */
  async publishPayload(channel: string, payload: string, idempotencyKey?: string): Promise<PublishResult> {
    const rule = this.rule(channel);
    const retention = rule.history === false ? { size: 0, ttl: 1 } : { size: rule.history.size, ttl: rule.history.ttl };
    let res;
    try {
      // A broker that failed to start makes every publish fail as "engine unavailable" (201).
      await this.ready;
      res = await this.engine.storage.append(channel, payload, idempotencyKey === undefined ? retention : { ...retention, idempotencyKey });
    } catch (err) {
      this.log('error', { err: errorMessage(err), channel }, 'storage append failed');
      throw new SwitchyardError('ENGINE_UNAVAILABLE', 'publish not acknowledged');
    }
    if (res.duplicate) return { offset: res.offset, epoch: res.epoch, duplicate: true };
    this.counters.published++;
    if (!this.engine.appendPublishes) {
      await this.engine.broker.publish({ channel, offset: res.offset, epoch: res.epoch, payload }).catch((err: unknown) => {
        // Stored but not broadcast: subscribers on other nodes detect the gap on the next message.
        this.log('warn', { err: errorMessage(err), channel }, 'broker publish failed');
      });
    }
    return { offset: res.offset, epoch: res.epoch };
  }

  /** One page of history, payloads as stored. @internal */
  private async readHistory(channel: string, since: Position | undefined, limit: number | undefined): Promise<{ messages: StoredMessage[]; position: Position; complete: boolean }> {
    if (this.rule(channel).history === false) throw new SwitchyardError('HISTORY_DISABLED', `${channel} keeps no history`);
    const max = this.options.limits.maxHistoryLimit;
    if (limit !== undefined && !(Number.isSafeInteger(limit) && limit >= 1 && limit <= max)) throw optionError('limit', `an integer from 1 to ${max}`, limit);
    const n = limit ?? Math.min(100, max);
    const state = await this.engine.storage.state(channel);
    let after: number;
    let complete = true;
    if (since) {
      complete = since.epoch === state.epoch && since.offset <= state.offset && since.offset >= state.earliest - 1;
      after = complete ? since.offset : state.earliest - 1;
    } else after = Math.max(state.earliest - 1, state.offset - n);
    const { messages, state: s2 } = await this.engine.storage.read(channel, after, n);
    return { messages, position: { offset: s2.offset, epoch: s2.epoch }, complete };
  }

  /** History as the JSON text of a {@link HistoryResult}: stored payloads are spliced in, not re-encoded. @internal */
  async historyText(channel: string, since: Position | undefined, limit: number | undefined): Promise<string> {
    const { messages, position, complete } = await this.readHistory(channel, since, limit);
    let text = '{"messages":[';
    for (let i = 0; i < messages.length; i++) text += (i ? ',' : '') + '{"off":' + messages[i].offset + ',"data":' + messages[i].payload + '}';
    return text + '],"position":' + JSON.stringify(position) + ',"complete":' + complete + '}';
  }

  /** Registers a subscription in the router and declares broker interest. @internal */
  async addSubscription(sub: Subscription): Promise<void> {
    this.router.add(sub.channel, sub.pattern, sub);
    const n = this.interest.get(sub.channel) ?? 0;
    this.interest.set(sub.channel, n + 1);
    let ready = this.interestReady.get(sub.channel);
    if (n === 0 || !ready) {
      ready = this.engine.broker.subscribe(sub.channel);
      ready.catch(() => {});
      this.interestReady.set(sub.channel, ready);
    }
    // Every subscriber waits for the broker subscription, not only the first: reading the
    // stream's position before the bus delivers would leave a window of unseen messages.
    try {
      await ready;
    } catch (err) {
      this.log('error', { err: errorMessage(err), channel: sub.channel }, 'broker subscribe failed');
      throw new SwitchyardError('ENGINE_UNAVAILABLE', `could not subscribe to ${sub.channel} on the broker`);
    }
  }

  /** Removes a subscription (idempotent). @internal */
  removeSubscription(sub: Subscription): void {
    if (!sub.active) return;
    sub.active = false;
    this.router.remove(sub.channel, sub.pattern, sub);
    this.presenceTracker.remove(sub);
    const n = this.interest.get(sub.channel);
    if (n === undefined) return;
    if (n > 1) this.interest.set(sub.channel, n - 1);
    else {
      this.interest.delete(sub.channel);
      this.interestReady.delete(sub.channel);
      this.engine.broker.unsubscribe(sub.channel).catch(() => {});
    }
  }

  /** Starts catching a subscription up from history unless it already is. @internal */
  startCatchUp(sub: Subscription): void {
    // One loop per subscription; a running loop re-reads before going live, so a second start is redundant.
    if (sub.catchingUp) return;
    sub.catchingUp = true;
    this.counters.catchUps++;
    catchUp(sub, this.engine.storage, (s, notice) => {
      this.counters.gaps++;
      (s.target as Connection).sendJson({ op: 'gap', ch: s.channel, position: notice });
    }).catch((err: unknown) => {
      this.log('warn', { err: errorMessage(err), channel: sub.channel }, 'catch-up failed; closing for reconnect');
      (sub.target as Connection).close(CLOSE.INSUFFICIENT_STATE, 'could not read history');
    });
  }

  /** @internal */
  markCongested(conn: Connection): void {
    this.congestedConns.add(conn);
  }

  /** @internal */
  connectionClosed(conn: Connection, code: number): void {
    this.conns.delete(conn.id);
    this.congestedConns.delete(conn);
    if (code === CLOSE.SLOW_CONSUMER) this.counters.slowConsumerCloses++;
    countBy(this.counters.closes, code);
    this.emit('disconnect', { id: conn.id, code });
    if (this.conns.size === 0) this.onEmpty?.();
  }

  // ---------------------------------------------------------------- fan-out

  private dispatch(m: BrokerMessage): void {
    // Serialized once per message for all exact subscribers, and once per distinct pattern
    // (pattern frames name their pattern so a client routes each frame to one subscription).
    let exact: Buffer | undefined;
    let byPattern: Map<string, Buffer> | undefined;
    this.router.match(m.channel, (sub) => {
      let frame: Buffer | undefined;
      if (!sub.pattern) frame = exact ??= Buffer.from(msgFrameText(m.channel, m.offset, m.epoch, m.payload));
      else {
        byPattern ??= new Map();
        frame = byPattern.get(sub.channel);
        if (!frame) byPattern.set(sub.channel, (frame = Buffer.from(msgFrameText(m.channel, m.offset, m.epoch, m.payload, sub.channel))));
      }
      if (sub.live(m, frame)) this.startCatchUp(sub);
    });
  }

  private busInterrupted(): void {
    // Messages may have been missed on the bus: every exact subscription re-checks the store.
    for (const conn of this.conns.values()) {
      for (const sub of conn.subs.values()) {
        if (sub.pattern) continue;
        if (sub.state === SubState.Live) this.startCatchUp(sub);
        // A running catch-up may have done its last read before the outage: make it read again.
        else if (sub.state === SubState.CatchingUp) sub.sawLive = Math.max(sub.sawLive, sub.lastSent + 1);
      }
    }
  }

  private tick(): void {
    const now = performance.now();
    const { queueHighWaterBytes, slowConsumerTimeout } = this.options.limits;
    for (const conn of this.congestedConns) {
      if (!conn.open) {
        this.congestedConns.delete(conn);
      } else if (conn.transport.bufferedAmount <= queueHighWaterBytes / 2) {
        this.congestedConns.delete(conn);
        conn.drained();
      } else if (now - conn.congestedSince > slowConsumerTimeout) {
        this.congestedConns.delete(conn);
        conn.close(CLOSE.SLOW_CONSUMER, `send queue above limits.queueHighWaterBytes for ${slowConsumerTimeout} ms`);
      }
    }
    if (now < this.heartbeatDue) return;
    this.heartbeatDue = now + this.options.heartbeatInterval;
    for (const conn of this.conns.values()) {
      if (!conn.alive) {
        conn.transport.terminate();
        conn.closed(CLOSE.HEARTBEAT_TIMEOUT);
        continue;
      }
      conn.alive = false;
      conn.send('{"op":"ping"}');
    }
  }
}
