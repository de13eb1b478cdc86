/**
 * The hub: owns connections, subscriptions and the router, talks to the engine, and runs the
 * one timer that drives heartbeats and slow-consumer checks for every connection.
 * @module
 */
import { EventEmitter } from 'eventemitter3';
import { checkChannel } from './channel-name.js';
import { CLOSE } from './close-codes.js';
import { Connection } from './connection.js';
import { catchUp, SubState, type GapNotice, type ReplayFrames, type Subscription } from './delivery.js';
import { recheckChannel, type RecheckHost } from './recheck.js';
import { LRUCache } from 'lru-cache';
import { SERVER_KEY_PREFIX, type BrokerMessage, type Engine, type Position, type Storage, type StoredMessage } from './engine.js';
import { memoryEngine } from './engine-memory.js';
import { optionError, SwitchyardError } from './errors.js';
import { resolveOptions, type AuthorizeRequest, type Logger, type ResolvedOptions, type SwitchyardOptions } from './options.js';
import { msgFrameText, type PresenceResult, type PublishResult } from './protocol.js';
import { PresenceTracker } from './presence.js';
import type { PresenceUsersResult } from './user-presence.js';
import { MemoryPresence } from './presence-memory.js';
import { countBy, newCounters, type HubCounters, type HubMetrics } from './metrics.js';
import { DIAGNOSTICS, Instruments } from './instruments.js';
import { hubStatus, type HubStatus } from './status.js';
import { NODES_CHANNEL, NodeDirectory } from './nodes.js';
import { hostname } from 'node:os';
import { Router } from './router.js';
import { textLargerThan } from './validate.js';
import { originAllowed, runAuthenticate, type AuthOutcome } from './admission.js';
import { ChannelRules, type ResolvedRule } from './channel-rules.js';
import type { AuthRequest, ConnectionInput, Transport } from './transport.js';
import type { Identity } from './grant.js';
import type { RefreshFrame } from './protocol.js';
import { ExpiryTable, reauthenticate, serverChannelsWire } from './refresh.js';
import { CONTROL_CHANNEL, controlMessage, defaultUserId, parseControl, UserIndex, userKey, type ControlMessage } from './revocation.js';

/** Bytes of replayed `msg` frames kept for reuse by other subscribers catching up the same messages. */
const REPLAY_CACHE_BYTES = 4 << 20;

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
export interface HistoryQuery<User = unknown> {
  /** Return messages after this position (default: the latest `limit` messages). */
  since?: Position;
  /** Most messages to return (default 100, at most `limits.maxHistoryLimit`). */
  limit?: number;
  /**
   * Read on behalf of this user (e.g. in an HTTP route serving a logged-in user): the `authorize`
   * hook runs with action `history` and this user, and a denial rejects with 107 FORBIDDEN.
   * Without it the read is the server's own and is not authorized.
   */
  asUser?: User;
}

/** Options of {@link Switchyard.presence}. */
export interface PresenceQuery<User = unknown> {
  /**
   * Ask on behalf of this user: the `authorize` hook runs with action `presence` and this user,
   * and a denial rejects with 107 FORBIDDEN. Without it the read is the server's own.
   */
  asUser?: User;
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
export class Switchyard<User = unknown> extends EventEmitter<HubEvents> {
  /** Resolved options (defaults applied). @internal */
  readonly options: ResolvedOptions;
  /** Counters since the hub started. */
  readonly counters: HubCounters = newCounters();
  /** Histograms, families, recent errors and diagnostics events. @internal */
  readonly instruments: Instruments;
  /** This node's view of the cluster's nodes. @internal */
  readonly nodes: NodeDirectory;
  private readonly engine: Engine;
  /** @internal */
  readonly presenceTracker: PresenceTracker;
  private readonly userOptions: SwitchyardOptions;
  private readonly router = new Router<Subscription>();
  private readonly conns = new Map<string, Connection>();
  private readonly congestedConns = new Set<Connection>();
  /** Patterns being subscribed (awaiting authorize) and not yet in the router, with their counts. */
  private readonly patternReservations = new Map<string, number>();
  private readonly interest = new Map<string, number>();
  private readonly interestReady = new Map<string, Promise<void>>();
  private readonly rules: ChannelRules;
  /**
   * `msg` frames of recently replayed messages, so subscribers catching up the same channel share
   * one serialized frame per message instead of building their own (bounded by bytes).
   */
  private readonly replayCache = new LRUCache<string, Buffer>({ maxSize: REPLAY_CACHE_BYTES, sizeCalculation: (b) => b.length + 64 });
  private readonly replayFrame: ReplayFrames = (channel, epoch, m) => {
    const key = channel + '\n' + epoch + '\n' + m.offset;
    let frame = this.replayCache.get(key);
    if (!frame) {
      frame = Buffer.from(msgFrameText(channel, m.offset, epoch, m.payload));
      // A frame larger than the whole cache is sent uncached (lru-cache would refuse it anyway).
      if (frame.length + 64 <= REPLAY_CACHE_BYTES) this.replayCache.set(key, frame);
    }
    return frame;
  };
  private readonly ready: Promise<void>;
  private readonly timer: ReturnType<typeof setInterval>;
  private heartbeatDue: number;
  private closing: Promise<void> | undefined;
  private onEmpty: (() => void) | undefined;
  private readonly expiries: ExpiryTable;
  private readonly users = new UserIndex<Connection>();
  /** Names this node in control messages, so it skips the ones it sent. */

  /** @throws SwitchyardError (code 150) naming the invalid option. */
  constructor(typedOptions: SwitchyardOptions<User> = {}) {
    super();
    // The hooks only ever see the user `authenticate` returned, so the hub keeps them untyped and
    // a Switchyard<User> passes wherever a Switchyard is expected.
    const options = typedOptions as SwitchyardOptions;
    this.options = resolveOptions(options);
    this.rules = new ChannelRules(this.options);
    this.userOptions = options;
    this.instruments = new Instruments(options.metrics ?? true);
    const engine = options.engine ?? memoryEngine();
    // Storage calls are timed through a wrapper; the engine keeps its own prototype and fields.
    this.engine = Object.create(engine, { storage: { value: this.instruments.timeStorage(engine.storage) } }) as Engine;
    this.ready = this.engine.broker.start({
      message: (m) => this.dispatch(m),
      interrupted: () => this.busInterrupted(),
    });
    this.ready.catch(() => {});
    // Revocations from other nodes arrive on the reserved control channel of the same broker.
    this.ready
      .then(() => this.engine.broker.subscribe(CONTROL_CHANNEL))
      .catch((err: unknown) => this.log('warn', { err }, 'control channel subscribe failed; revocations from other nodes will not arrive'));
    this.expiries = new ExpiryTable(this.options.refreshLead);
    this.nodes = new NodeDirectory(this.engine.broker, `${hostname()}:${process.pid}`, () => this.conns.size);
    this.ready.then(() => this.nodes.start().catch((err: unknown) => this.log('warn', { err }, 'could not join the node list')), () => {});
    const log = (level: keyof Logger, obj: object, msg: string): void => this.log(level, obj, msg);
    this.presenceTracker = new PresenceTracker(this.engine.presence ?? new MemoryPresence(), options.presenceInfo, this.options.limits.maxPresenceInfoBytes, log, this.options.limits.maxPresenceMembers);
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
    this.instruments.logged(level, obj, msg);
  }

  // ---------------------------------------------------------------- adapter API

  /**
   * Checks an upgrade's `Origin` header against `allowedOrigins` (see {@link SwitchyardOptions}).
   * Adapters call this before the handshake and answer 403 when it returns false. `scheme` is the
   * scheme the request arrived with (`https` behind TLS or a proxy that says so); the default
   * check requires the Origin's scheme to match it, as well as its host.
   */
  originAllowed(origin: string | undefined, host: string | undefined, scheme?: 'http' | 'https'): boolean {
    return originAllowed(this.userOptions.allowedOrigins, origin, host, scheme);
  }

  /**
   * Runs the `authenticate` option with `limits.authTimeout`. Adapters call this before
   * completing the handshake and answer with the returned HTTP status when it fails.
   */
  async authenticate(req: AuthRequest): Promise<AuthOutcome> {
    if (this.closing) return { ok: false, status: 503, reason: 'server shutting down' };
    if (this.conns.size >= this.options.limits.maxConnections) return { ok: false, status: 503, reason: 'hub is full (limits.maxConnections)' };
    const hook = this.userOptions.authenticate;
    if (!hook) return { ok: true, user: undefined };
    const outcome = await runAuthenticate(hook, req, this.options.limits.authTimeout, (err) =>
      this.log('error', { err, remoteAddress: req.remoteAddress }, 'authenticate hook threw'),
    );
    if (!outcome.ok) {
      countBy(this.counters.authFailures, outcome.status);
      this.refused(outcome.status, outcome.reason, req.remoteAddress);
    }
    else if (outcome.identity) outcome.identity.request = { url: req.url, remoteAddress: req.remoteAddress };
    return outcome;
  }

  /**
   * Logs (at info) and publishes on `switchyard:refusal` an upgrade refused before the
   * handshake. Adapters call it for refusals they decide themselves (origin, subprotocol).
   */
  refused(status: number, reason: string, remoteAddress: string | undefined): void {
    this.log('info', { status, reason, remoteAddress }, 'upgrade refused');
    if (DIAGNOSTICS.refusal.hasSubscribers) DIAGNOSTICS.refusal.publish({ status, reason, remoteAddress });
  }

  /**
   * Hands an open, authenticated socket to the hub. Returns the callbacks the adapter must call
   * for each inbound message and when the socket closes.
   */
  accept(transport: Transport, user: unknown, identity?: Identity, remoteAddress?: string): ConnectionInput {
    const conn = new Connection(this, transport, user);
    conn.remoteAddress = remoteAddress;
    if (this.closing) {
      transport.close(CLOSE.GOING_AWAY, 'server shutting down');
      conn.open = false;
      return conn;
    }
    if (this.conns.size >= this.options.limits.maxConnections) {
      // Upgrades that were authenticated concurrently past the check in authenticate(): 1013 Try Again Later (the SDK reconnects with backoff).
      transport.close(1013, 'hub is full (limits.maxConnections)');
      conn.open = false;
      return conn;
    }
    this.conns.set(conn.id, conn);
    this.counters.connectionsAccepted++;
    conn.userKey = userKey(this.userIdOf(user));
    this.users.add(conn.userKey, conn);
    const welcome: Record<string, unknown> = { op: 'welcome', v: 1, cid: conn.id, hb: this.options.heartbeatInterval, win: this.options.limits.inflightWindow, pr: this.options.limits.publishesPerSecond };
    if (identity) {
      conn.request = identity.request;
      conn.serverChannels = identity.channels;
      this.expiries.set(conn, identity.expiresAt);
      const exp = this.expiries.remaining(conn);
      if (exp !== undefined) welcome.exp = exp;
      if (identity.channels?.size) welcome.subs = serverChannelsWire(identity.channels);
    }
    conn.sendJson(welcome);
    this.emit('connection', { id: conn.id, user });
    this.log('debug', { connectionId: conn.id, userId: conn.userKey, remoteAddress }, 'connection opened');
    if (DIAGNOSTICS.connection.hasSubscribers) DIAGNOSTICS.connection.publish({ event: 'open', id: conn.id, userId: conn.userKey, remoteAddress });
    return conn;
  }

  // ---------------------------------------------------------------- public API

  /**
   * Publishes `data` (any JSON value) to an exact channel. Resolves after the message is stored,
   * with its position. Rejects with a `SwitchyardError`: 103 for an invalid channel, 104 when the
   * JSON of `data` is larger than `limits.maxMessageBytes` (the same limit as client publishes),
   * 201 when the engine is unavailable (nothing was stored), 202 when the hub is closing.
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
    // The same limit as a client publish ([PUB-5]): every subscriber's SDK and queue is sized for it.
    const max = this.options.limits.maxMessageBytes;
    if (textLargerThan(payload, max)) throw new SwitchyardError('MESSAGE_TOO_LARGE', `data is larger than limits.maxMessageBytes (${max} bytes)`);
    if (this.closing) throw new SwitchyardError('SHUTTING_DOWN');
    // Server keys and client message ids live in separate namespaces ("s:" / "c:"), so a client
    // cannot pre-claim a key the backend will use and make its publish a silent duplicate.
    return this.publishPayload(channel, payload, key === undefined ? undefined : SERVER_KEY_PREFIX + key);
  }

  /**
   * Reads a channel's history. Rejects with 103 for an invalid channel, 112 when the channel's
   * rule keeps no history, and 107 when `asUser` is given and `authorize` denies.
   */
  async history(channel: string, query: HistoryQuery<User> = {}): Promise<HistoryPage> {
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
  async presence(channel: string, query: PresenceQuery<User> = {}): Promise<PresenceResult> {
    await this.checkServerRead('presence', channel, query, 'an object {asUser?}');
    if (!this.rule(channel).presence) throw new SwitchyardError('PRESENCE_DISABLED', `${channel} has no presence; add a channel rule with presence: true`);
    return this.presenceTracker.members(channel, this.options.limits.maxPresenceMembers);
  }

  /**
   * Presence by user (docs/presence.md#presence-by-user): at most `limits.maxPresenceMembers`
   * users, each with its connection count across all nodes. Rejects with 103 for an invalid
   * channel, 117 when the channel's rule has no `userPresence: true`, 107 when `asUser` is given
   * and `authorize` denies, and 201 when the presence store is unreachable.
   */
  async presenceUsers(channel: string, query: PresenceQuery = {}): Promise<PresenceUsersResult> {
    await this.checkServerRead('presence', channel, query, 'an object {asUser?}');
    if (!this.rule(channel).userPresence) throw new SwitchyardError('PRESENCE_DISABLED', `${channel} has no presence by user; add a channel rule with presence: true, userPresence: true`);
    const { users, truncated } = await this.presenceTracker.users.users(channel, this.options.limits.maxPresenceMembers);
    return { users: users.map((u) => (u.info === undefined ? { userId: u.userId, connections: u.connections } : { userId: u.userId, connections: u.connections, info: JSON.parse(u.info) as unknown })), truncated };
  }

  /** Current position of a channel's stream (creates the stream, with a new epoch, if it has none). */
  async position(channel: string): Promise<Position> {
    const err = checkChannel(channel, false, this.options.limits.maxChannelBytes);
    if (err) throw new SwitchyardError('BAD_CHANNEL', err);
    const s = await this.engine.storage.state(channel);
    return { offset: s.offset, epoch: s.epoch };
  }

  /**
   * Closes connections from the server side: one connection by id, or every connection of a user
   * (`{ user: id }`, matched by the `userId` option) on every node of a cluster. `code` decides
   * what the client does next (docs/protocol.md §4): the default 4502 KICKED is terminal; a
   * 4000–4499 code makes it reconnect and recover. Returns whether a connection was closed on
   * this node; other nodes are told through the engine's broker (a broker failure is logged).
   * @throws SwitchyardError (150) for a code outside 1000, 1001, 4000–4999 or a bad target.
   */
  disconnect(target: string | { user: string | number }, code: number = CLOSE.KICKED, reason = 'disconnected by server'): boolean {
    if (!(Number.isInteger(code) && (code === 1000 || code === 1001 || (code >= 4000 && code <= 4999)))) {
      throw optionError('code', '1000, 1001 or a code from 4000 to 4999 (see docs/protocol.md §4)', code);
    }
    if (typeof reason !== 'string') throw optionError('reason', 'a string', reason);
    if (typeof target === 'string') {
      const c = this.conns.get(target);
      c?.close(code, reason);
      if (!c) this.broadcast({ n: this.nodes.id, k: 'disconnect', c: target, code, reason }).catch(() => {});
      return c !== undefined;
    }
    const u = this.targetUser(target);
    const closed = this.disconnectLocal(u, code, reason);
    this.broadcast({ n: this.nodes.id, k: 'disconnect', u, code, reason }).catch(() => {});
    return closed;
  }

  /**
   * Ends `user`'s subscriptions to `channel` (an exact channel or the pattern as subscribed) on
   * all its connections on every node; each client gets an `end` frame with 122. Resolves once
   * the other nodes were told; rejects with 201 when the broker is unreachable (this node's
   * subscriptions are ended anyway), 150 for a bad user id or channel.
   */
  async unsubscribe(user: string | number, channel: string): Promise<void> {
    const u = this.targetUser({ user });
    const err = checkChannel(channel, true, this.options.limits.maxChannelBytes);
    if (err) throw optionError('channel', `a channel or pattern (${err})`, channel);
    this.unsubscribeLocal(u, channel);
    await this.broadcast({ n: this.nodes.id, k: 'unsubscribe', u, ch: channel });
  }

  /**
   * Re-runs `authorize` (action `subscribe`) on every subscription of `user`'s connections on
   * every node and ends the denied ones with 121 — call it after changing a user's rights.
   * Resolves once the other nodes were told; rejects with 201 when the broker is unreachable.
   */
  async refreshUser(user: string | number): Promise<void> {
    const u = this.targetUser({ user });
    for (const c of this.users.get(u)) void this.reauthorizeSubscriptions(c);
    await this.broadcast({ n: this.nodes.id, k: 'reauthorize', u });
  }

  /**
   * What the admin page and the HTTP API's `/status` show: connections (the busiest first),
   * channels with subscribers and history sizes, recent errors, closes by code and the
   * cluster's nodes. Reads each listed channel's stream state from the engine. `top` (default 20,
   * at most 1,000) bounds the connections and channels listed.
   * @throws SwitchyardError (150) when `top` is not an integer from 1 to 1,000.
   */
  async status(options: { top?: number } = {}): Promise<HubStatus> {
    const top = options?.top ?? 20;
    if (!(Number.isSafeInteger(top) && top >= 1 && top <= 1000)) throw optionError('top', 'an integer from 1 to 1000', top);
    return hubStatus(this, [...this.conns.values()], this.router, top);
  }

  /** A snapshot of counters, gauges and latency histograms; `prometheusText()` formats it for a scraper. */
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
      clusterNodes: this.nodes.list().length,
      ...this.instruments.snapshot(),
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
    this.replayCache.clear();
    this.instruments.close();
    await this.nodes.leave();
    await this.engine.broker.close().catch(() => {});
    await this.engine.storage.close().catch(() => {});
    await this.presenceTracker.store.close().catch(() => {});
    this.emit('close');
  }

  // ---------------------------------------------------------------- identity and revocation

  private userIdOf(user: unknown): string | number | undefined {
    const hook = this.userOptions.userId;
    if (!hook) return defaultUserId(user);
    try {
      const id = hook(user);
      return typeof id === 'string' || typeof id === 'number' ? id : undefined;
    } catch (err) {
      this.log('warn', { err }, 'userId hook threw; connection cannot be targeted by user');
      return undefined;
    }
  }

  private targetUser(target: unknown): string {
    const id = typeof target === 'object' && target !== null ? (target as { user?: unknown }).user : undefined;
    const key = typeof id === 'string' || typeof id === 'number' ? userKey(id) : undefined;
    if (key === undefined) throw optionError('user', 'a user id: a non-empty string (at most 1024 chars) or a number', id);
    return key;
  }

  /** Sends a control message to the other nodes. Rejects with 201 when the broker fails. */
  private async broadcast(m: ControlMessage): Promise<void> {
    try {
      await this.ready;
      await this.engine.broker.publish(controlMessage(m));
    } catch (err) {
      this.log('warn', { err, kind: m.k }, 'control message not sent; other nodes were not told');
      throw new SwitchyardError('ENGINE_UNAVAILABLE', 'other nodes could not be told');
    }
  }

  private onControl(payload: string): void {
    const m = parseControl(payload);
    if (!m || m.n === this.nodes.id) return;
    if (m.k === 'disconnect') {
      if (m.c !== undefined) this.conns.get(m.c)?.close(m.code, m.reason);
      else this.disconnectLocal(m.u!, m.code, m.reason);
    } else if (m.k === 'unsubscribe') this.unsubscribeLocal(m.u, m.ch);
    else for (const c of this.users.get(m.u)) void this.reauthorizeSubscriptions(c);
  }

  private disconnectLocal(user: string, code: number, reason: string): boolean {
    const conns = this.users.get(user);
    for (const c of conns) c.close(code, reason);
    return conns.length > 0;
  }

  private unsubscribeLocal(user: string, channel: string): void {
    for (const c of this.users.get(user)) {
      const sub = c.subs.get(channel);
      if (sub) c.endSubscription(sub, 'UNSUBSCRIBED_BY_SERVER', `[END-1] ${channel} ended by the server`);
    }
  }

  /**
   * [REF-5] Re-checks every subscription of `conn` against its current user: server-side channels
   * still granted stay; a server-side channel withdrawn, or a client subscription `authorize` now
   * denies (action `subscribe`, plus `presence` when it receives presence events), ends with 121.
   */
  private async reauthorizeSubscriptions(conn: Connection, previousGrant?: ReadonlyMap<string, unknown>): Promise<void> {
    await Promise.all(
      [...conn.subs.values()].map(async (sub) => {
        if (conn.serverChannels?.has(sub.channel)) return;
        const withdrawn = previousGrant?.has(sub.channel) === true;
        // Presence events reveal the member list, so a watcher also needs the presence right still ([PRES-4]).
        if (!withdrawn && (await this.authorized('subscribe', sub.channel, conn)) && (!this.presenceTracker.watching(sub) || (await this.authorized('presence', sub.channel, conn)))) return;
        conn.endSubscription(sub, 'SUBSCRIPTION_REVOKED', `[END-1] ${sub.channel} is no longer authorized`);
      }),
    );
  }

  /** [REF-2..REF-5] Handles a client's `refresh` frame. @internal */
  async refreshConnection(conn: Connection, f: RefreshFrame): Promise<void> {
    const onError = (err: unknown): void => this.log('error', { err, connectionId: conn.id }, 'refresh hook threw');
    const refreshHook = this.userOptions.refresh;
    const authHook = this.userOptions.authenticate;
    const user = conn.user;
    const identity = await reauthenticate(
      refreshHook
        ? () => refreshHook({ token: f.token, user, connectionId: conn.id })
        : // No upgrade request on a refresh, so no `raw` whatever the adapter (docs/identity.md).
          () => (authHook ? authHook({ headers: {}, url: conn.request?.url ?? '/', remoteAddress: conn.request?.remoteAddress, token: f.token, raw: undefined } as AuthRequest<never>) : user),
      this.options.limits.authTimeout,
      onError,
    );
    if (!conn.open) return;
    this.users.delete(conn.userKey, conn);
    conn.user = identity.user;
    conn.userKey = userKey(this.userIdOf(identity.user));
    this.users.add(conn.userKey, conn);
    const previousGrant = conn.serverChannels;
    conn.serverChannels = identity.channels;
    this.expiries.set(conn, identity.expiresAt);
    const exp = this.expiries.remaining(conn);
    const res: Record<string, unknown> = { subs: serverChannelsWire(identity.channels) };
    if (exp !== undefined) res.exp = exp;
    // The reply goes first so the client knows the new channel list before any `end` frame.
    conn.sendJson({ op: 'ok', id: f.id, res });
    await this.reauthorizeSubscriptions(conn, previousGrant);
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
      this.log('warn', { err, action, channel }, 'authorize hook threw; denied');
      return false;
    }
  }

  /** Stores and broadcasts one serialized payload. @internal */
  async publishPayload(channel: string, payload: string, idempotencyKey?: string): Promise<PublishResult> {
    const rule = this.rule(channel);
    const retention = rule.history === false ? { size: 0, ttl: 1 } : { size: rule.history.size, ttl: rule.history.ttl };
    let res;
    const startedAt = performance.now();
    try {
      // A broker that failed to start makes every publish fail as "engine unavailable" (201).
      await this.ready;
      res = await this.engine.storage.append(channel, payload, idempotencyKey === undefined ? retention : { ...retention, idempotencyKey });
    } catch (err) {
      this.counters.publishFailures++;
      this.log('error', { err, channel }, 'storage append failed');
      throw new SwitchyardError('ENGINE_UNAVAILABLE', 'publish not acknowledged');
    }
    if (res.duplicate) return { offset: res.offset, epoch: res.epoch, duplicate: true };
    this.counters.published++;
    this.instruments.published(channel, res.offset, res.epoch, payload.length, rule.family, startedAt);
    if (!this.engine.appendPublishes) {
      await this.engine.broker.publish({ channel, offset: res.offset, epoch: res.epoch, payload }).catch((err: unknown) => {
        // Stored but not broadcast: subscribers on other nodes detect the gap on the next message.
        this.log('warn', { err, channel }, 'broker publish failed');
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

  /**
   * Reserves room for a subscription to `pattern` under `limits.maxPatternsPerHub` (a pattern
   * already in use or reserved always fits); false when the hub is full. Reservations cover the
   * time a subscribe awaits `authorize`, so concurrent subscribes cannot overshoot the cap; each
   * is released with {@link releasePattern}. @internal
   */
  reservePattern(pattern: string): boolean {
    const n = this.patternReservations.get(pattern);
    if (n === undefined && !this.router.hasPattern(pattern) && this.router.distinctPatterns + this.patternReservations.size >= this.options.limits.maxPatternsPerHub) return false;
    this.patternReservations.set(pattern, (n ?? 0) + 1);
    return true;
  }

  /** Releases a reservation of {@link reservePattern} (the subscription is in the router now, or failed). @internal */
  releasePattern(pattern: string): void {
    const n = this.patternReservations.get(pattern);
    if (n === undefined) return;
    if (n > 1) this.patternReservations.set(pattern, n - 1);
    else this.patternReservations.delete(pattern);
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
      this.log('error', { err, channel: sub.channel }, 'broker subscribe failed');
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

  private readonly sendGap = (s: Subscription, notice: GapNotice): void => {
    this.counters.gaps++;
    (s.target as Connection).sendJson({ op: 'gap', ch: s.channel, position: { offset: notice.offset, epoch: notice.epoch }, reason: notice.reason });
  };

  private recheckHost(): RecheckHost {
    return { storage: this.engine.storage, replayFrame: this.replayFrame, gap: this.sendGap, startCatchUp: (sub) => this.startCatchUp(sub) };
  }

  /** Starts catching a subscription up from history unless it already is. @internal */
  startCatchUp(sub: Subscription): void {
    // One loop per subscription; a running loop re-reads before going live, so a second start is redundant.
    if (sub.catchingUp) return;
    sub.catchingUp = true;
    this.counters.catchUps++;
    const startedAt = performance.now();
    let from = sub.lastSent;
    // A gap moves lastSent forward without sending: count from there.
    const onGap = (s: Subscription, notice: GapNotice): void => {
      from = notice.offset;
      this.sendGap(s, notice);
    };
    catchUp(sub, this.engine.storage, onGap, this.replayFrame).then(() => this.instruments.caughtUp(sub.channel, (sub.target as Connection).id, startedAt, Math.max(0, sub.lastSent - from)), (err: unknown) => {
      this.log('warn', { err, channel: sub.channel, connectionId: (sub.target as Connection).id }, 'catch-up failed; closing for reconnect');
      (sub.target as Connection).close(CLOSE.INSUFFICIENT_STATE, 'could not read history');
    });
  }

  /** Logs a publish refused by the rate limit at info: the 1st, 2nd, 4th, 8th… of a connection, so a flood cannot flood the log. @internal */
  rateLimitedPublish(conn: Connection): void {
    const n = ++conn.rateLimited;
    if ((n & (n - 1)) === 0) this.log('info', { connectionId: conn.id, userId: conn.userKey, remoteAddress: conn.remoteAddress, reason: 'rate limited', refusals: n }, 'publish refused');
  }

  /** @internal */
  markCongested(conn: Connection): void {
    this.congestedConns.add(conn);
  }

  /** @internal */
  connectionClosed(conn: Connection, code: number): void {
    this.conns.delete(conn.id);
    this.expiries.delete(conn);
    this.users.delete(conn.userKey, conn);
    this.congestedConns.delete(conn);
    if (code === CLOSE.SLOW_CONSUMER) this.counters.slowConsumerCloses++;
    countBy(this.counters.closes, code);
    const fields = { connectionId: conn.id, userId: conn.userKey, remoteAddress: conn.remoteAddress, code };
    // Closes the server decided because of the client (slow consumer, bad frames) are worth a warning.
    if (code === CLOSE.SLOW_CONSUMER || code === CLOSE.TOO_MANY_ERRORS) this.log('warn', fields, 'connection closed for misbehaving');
    else this.log('debug', fields, 'connection closed');
    if (DIAGNOSTICS.connection.hasSubscribers) DIAGNOSTICS.connection.publish({ event: 'close', id: conn.id, userId: fields.userId, code });
    this.emit('disconnect', { id: conn.id, code });
    if (this.conns.size === 0) this.onEmpty?.();
  }

  // ---------------------------------------------------------------- fan-out

  private dispatch(m: BrokerMessage): void {
    if (m.channel === CONTROL_CHANNEL) return this.onControl(m.payload);
    if (m.channel === NODES_CHANNEL) return this.nodes.receive(m);
    // Serialized once per message for all exact subscribers, and once per distinct pattern
    // (pattern frames name their pattern so a client routes each frame to one subscription).
    let exact: Buffer | undefined;
    let byPattern: Map<string, Buffer> | undefined;
    const inst = this.instruments;
    // One message in `metrics.sampleEvery` is timed to every local subscriber's socket.
    const storedAt = inst.enabled ? inst.sampled(m.channel, m.offset) : 0;
    let subscribers = 0;
    this.router.match(m.channel, (sub) => {
      subscribers++;
      let frame: Buffer | undefined;
      if (!sub.pattern) frame = exact ??= Buffer.from(msgFrameText(m.channel, m.offset, m.epoch, m.payload));
      else {
        byPattern ??= new Map();
        frame = byPattern.get(sub.channel);
        if (!frame) byPattern.set(sub.channel, (frame = Buffer.from(msgFrameText(m.channel, m.offset, m.epoch, m.payload, sub.channel))));
      }
      if (sub.live(m, frame)) this.startCatchUp(sub);
      if (storedAt !== 0) inst.delivered(sub, m.offset, storedAt);
    });
    if (inst.enabled) inst.fannedOut(m.channel, m.offset, this.rule(m.channel).family, subscribers);
  }

  private busInterrupted(): void {
    // Messages may have been missed on the bus: every exact channel re-checks the store, once
    // for all its local subscriptions (not once per subscription).
    const host = this.recheckHost();
    for (const channel of [...this.router.channels()]) {
      const subs = [...(this.router.exactSubscribers(channel) ?? [])];
      recheckChannel(channel, subs, host).catch((err: unknown) => {
        // The store is not back yet: each subscription retries on its own (and reconnects its client if that fails too).
        this.log('warn', { err, channel }, 're-check after bus interruption failed');
        for (const sub of subs) if (sub.active && sub.state === SubState.Live) this.startCatchUp(sub);
      });
    }
  }

  private tick(): void {
    this.expiries.check();
    const now = performance.now();
    this.instruments.tick(now);
    this.nodes.tick(now);
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
      this.instruments.queued(conn.transport.bufferedAmount);
      conn.send('{"op":"ping"}');
    }
  }
}
