/**
 * The public facade of a hub: the `Switchyard` class applications and adapters call. It builds
 * the hub's parts and delegates to them; see ARCHITECTURE.md for what each part owns.
 * @module
 */
import { EventEmitter } from 'eventemitter3';
import { checkChannel } from './channel-name.js';
import type { ResolvedRule } from './channel-rules.js';
import { CLOSE } from './close-codes.js';
import type { Connection } from './connection.js';
import { checkServerRead } from './authorization.js';
import { authenticateUpgrade, originAllowed, type AuthOutcome } from './admission.js';
import type { Engine, Position, Storage } from './engine.js';
import { optionError, SwitchyardError } from './errors.js';
import { readHistory } from './history-read.js';
import type { HubContext } from './hub-context.js';
import { DIAGNOSTICS, Instruments } from './instruments.js';
import { isIntIn } from './integers.js';
import { newCounters, type HubCounters, type HubMetrics } from './metrics.js';
import type { NodeDirectory } from './nodes.js';
import type { StreamSessions } from './http-stream-routing.js';
import { decodePayload } from './payload.js';
import { resolveOptions, type Logger, type ResolvedOptions, type SwitchyardOptions } from './options.js';
import type { PresenceTracker } from './presence.js';
import type { PresenceResult, PublishResult } from './protocol.js';
import { checkPublish, publishPayload } from './publisher.js';
import { hubStatus, type HubStatus } from './status.js';
import type { AuthRequest, ConnectionInput, Transport } from './transport.js';
import type { Identity } from './grant.js';
import type { PresenceUsersResult } from './user-presence.js';
import type { HistoryPage, HistoryQuery, HubEvents, PresenceQuery, PublishOptions } from './hub-types.js';
import { assembleHub, metricsSnapshot, shutdownParts, type HubParts } from './hub-services.js';

export type { HistoryPage, HistoryQuery, HubEvents, PresenceQuery, PublishOptions } from './hub-types.js';
export type { AuthOutcome } from './admission.js';

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
  /** HTTP streams open on this node and the routing of their POSTs ([HS-5]). @internal */
  readonly streams: StreamSessions;
  /** @internal */
  readonly presenceTracker: PresenceTracker;
  private readonly engine: Engine;
  private readonly ctx: HubContext;
  /** The open connections by id (read by status and tests). */
  private readonly conns: ReadonlyMap<string, Connection>;
  private readonly parts: HubParts;
  /** The application's logger (set before the parts, which may log while they are built). */
  private readonly logger: Logger | undefined;
  private closing: Promise<void> | undefined;

  /** @throws SwitchyardError (code 150) naming the invalid option. */
  constructor(typedOptions: SwitchyardOptions<User> = {}) {
    super();
    // The hooks only ever see the user `authenticate` returned, so the hub keeps them untyped and
    // a Switchyard<User> passes wherever a Switchyard is expected.
    const options = typedOptions as SwitchyardOptions;
    this.options = resolveOptions(options);
    this.instruments = new Instruments(options.metrics ?? true);
    this.logger = options.logger;
    const log = (level: keyof Logger, obj: object, msg: string): void => this.log(level, obj, msg);
    this.parts = assembleHub(options, this.options, this.counters, this.instruments, log, {
      opened: (id, user) => this.emit('connection', { id, user }),
      closed: (conn, code) => this.emit('disconnect', { id: conn.id, code }),
    });
    ({ ctx: this.ctx, engine: this.engine, conns: this.conns, nodes: this.nodes, streams: this.streams } = this.parts);
    this.presenceTracker = this.ctx.presenceTracker;
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
    this.logger?.[level](obj, msg);
    this.instruments.logged(level, obj, msg);
  }

  /** The channel rule that applies to an exact channel. @internal */
  rule(channel: string): ResolvedRule {
    return this.ctx.rules.for(channel);
  }

  // ---------------------------------------------------------------- adapter API

  /**
   * Checks an upgrade's `Origin` header against `allowedOrigins` (see {@link SwitchyardOptions}).
   * Adapters call this before the handshake and answer 403 when it returns false. `scheme` is the
   * scheme the request arrived with (`https` behind TLS or a proxy that says so); the default
   * check requires the Origin's scheme to match it, as well as its host.
   */
  originAllowed(origin: string | undefined, host: string | undefined, scheme?: 'http' | 'https'): boolean {
    return originAllowed(this.ctx.userOptions.allowedOrigins, origin, host, scheme);
  }

  /**
   * Runs the `authenticate` option with `limits.authTimeout`. Adapters call this before
   * completing the handshake and answer with the returned HTTP status when it fails.
   */
  async authenticate(req: AuthRequest): Promise<AuthOutcome> {
    const full = this.conns.size >= this.options.limits.maxConnections;
    return authenticateUpgrade(
      this.ctx,
      req,
      this.closing ? 'server shutting down' : full ? 'hub is full (limits.maxConnections)' : undefined,
      (status, reason) => this.refused(status, reason, req.remoteAddress),
    );
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
    return this.parts.registry.accept(
      this.parts.host,
      this.closing !== undefined,
      transport,
      user,
      identity,
      remoteAddress,
    );
  }

  // ---------------------------------------------------------------- public API

  /**
   * Publishes `data` to an exact channel: any JSON value, or bytes (a `Uint8Array`, an
   * `ArrayBuffer` or another typed-array view, [BIN-1]), which subscribers receive as a
   * `Uint8Array`. Resolves after the message is stored,
   * with its position. Rejects with a `SwitchyardError`: 103 for an invalid channel, 104 when the
   * JSON of `data` (or the bytes) is larger than `limits.maxMessageBytes` (the same limit as client publishes),
   * 201 when the engine is unavailable (nothing was stored), 202 when the hub is closing.
   */
  async publish(channel: string, data: unknown, options: PublishOptions = {}): Promise<PublishResult> {
    const { payload, key } = checkPublish(this.ctx, channel, data, options);
    if (this.closing) throw new SwitchyardError('SHUTTING_DOWN');
    return publishPayload(this.ctx, channel, payload, key);
  }

  /**
   * Reads a channel's history. Rejects with 103 for an invalid channel, 112 when the channel's
   * rule keeps no history, and 107 when `asUser` is given and `authorize` denies.
   */
  async history(channel: string, query: HistoryQuery<User> = {}): Promise<HistoryPage> {
    await checkServerRead(this.ctx, 'history', channel, query, 'an object {since?, limit?, asUser?}');
    const page = await readHistory(this.ctx, channel, query.since, query.limit);
    return {
      messages: page.messages.map((m) => ({ offset: m.offset, data: decodePayload(m.payload) })),
      position: page.position,
      complete: page.complete,
    };
  }

  /**
   * Who is subscribed to a presence channel right now: at most `limits.maxPresenceMembers`
   * members (`truncated` says when there are more). Rejects with 103 for an invalid channel,
   * 117 when the channel's rule has no `presence: true`, 107 when `asUser` is given and
   * `authorize` denies, and 201 when the presence store is unreachable.
   */
  async presence(channel: string, query: PresenceQuery<User> = {}): Promise<PresenceResult> {
    await checkServerRead(this.ctx, 'presence', channel, query, 'an object {asUser?}');
    if (!this.rule(channel).presence)
      throw new SwitchyardError(
        'PRESENCE_DISABLED',
        `${channel} has no presence; add a channel rule with presence: true`,
      );
    return this.presenceTracker.members(channel, this.options.limits.maxPresenceMembers);
  }

  /**
   * Presence by user (docs/presence.md#presence-by-user): at most `limits.maxPresenceMembers`
   * users, each with its connection count across all nodes. Rejects with 103 for an invalid
   * channel, 117 when the channel's rule has no `userPresence: true`, 107 when `asUser` is given
   * and `authorize` denies, and 201 when the presence store is unreachable.
   */
  async presenceUsers(channel: string, query: PresenceQuery = {}): Promise<PresenceUsersResult> {
    await checkServerRead(this.ctx, 'presence', channel, query, 'an object {asUser?}');
    if (!this.rule(channel).userPresence)
      throw new SwitchyardError(
        'PRESENCE_DISABLED',
        `${channel} has no presence by user; add a channel rule with presence: true, userPresence: true`,
      );
    return this.presenceTracker.usersResult(channel, this.options.limits.maxPresenceMembers);
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
   * what the client does next (docs/protocol.md §Close codes): the default 3502 KICKED is
   * terminal; an application code from 4000 to 4499 makes it reconnect and recover, 4500–4999
   * stop. Returns whether a connection was closed on this node; other nodes are told through the
   * engine's broker (a broker failure is logged).
   * @throws SwitchyardError (150) for a code other than 1000, 1001, 3502 or 4000–4999, or a bad target.
   */
  disconnect(
    target: string | { user: string | number },
    code: number = CLOSE.KICKED,
    reason = 'disconnected by server',
  ): boolean {
    return this.parts.control.disconnect(target, code, reason);
  }

  /**
   * Ends `user`'s subscriptions to `channel` (an exact channel or the pattern as subscribed) on
   * all its connections on every node; each client gets an `end` frame with 122. Resolves once
   * the other nodes were told; rejects with 201 when the broker is unreachable (this node's
   * subscriptions are ended anyway), 150 for a bad user id or channel.
   */
  async unsubscribe(user: string | number, channel: string): Promise<void> {
    this.parts.control.checkUser(user);
    const err = checkChannel(channel, true, this.options.limits.maxChannelBytes);
    if (err) throw optionError('channel', `a channel or pattern (${err})`, channel);
    await this.parts.control.unsubscribe(user, channel);
  }

  /**
   * Re-runs `authorize` (action `subscribe`) on every subscription of `user`'s connections on
   * every node and ends the denied ones with 121 — call it after changing a user's rights.
   * Resolves once the other nodes were told; rejects with 201 when the broker is unreachable.
   */
  async refreshUser(user: string | number): Promise<void> {
    await this.parts.control.refreshUser(user);
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
    if (!isIntIn(top, 1, 1000)) throw optionError('top', 'an integer from 1 to 1000', top);
    return hubStatus(this, [...this.conns.values()], this.parts.fanOut.router, top);
  }

  /** A snapshot of counters, gauges and latency histograms; `prometheusText()` formats it for a scraper. */
  metrics(): HubMetrics {
    return metricsSnapshot(this.parts);
  }

  /** Exact channels with local subscribers and their subscriber counts. */
  channels(): Array<{ channel: string; subscribers: number }> {
    return this.parts.fanOut.channels();
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
    await shutdownParts(this.parts);
    this.emit('close');
  }
}
