/**
 * `switchyardjs/client`: the client SDK for browsers and Node. Reconnects with full-jitter
 * backoff, resubscribes and recovers every subscription from its last position, retries QoS 1
 * publishes from a bounded offline queue, and de-duplicates deliveries by offset.
 *
 * In Node, `switchyardjs/client` resolves to an entry that supplies the `ws` package as the
 * WebSocket implementation; in browsers the global `WebSocket` is used and `ws` never loads.
 * This file is the `Client` facade; each concern behind it has its own file: options, link
 * (connection lifecycle over a `ClientTransport`, endpoints, watchdog, decode), dispatch,
 * requests, outbox, ack batching, server-side subscriptions.
 * @module switchyard/client
 */
import { EventEmitter } from 'eventemitter3';
import type { Position } from '../engine.js';
import type {
  HistoryResult,
  PresenceResult,
  PresenceResultWire,
  PresenceUsersResultWire,
  PublishResult,
  ServerFrame,
  WelcomeFrame,
} from '../protocol.js';
import type { PresenceUsersResult } from '../user-presence.js';
import { ackBatcher, type AckBatcher } from './ack-batcher.js';
import { dispatch } from './dispatch.js';
import { CLOSED, ClientError, NO_ANSWER } from './errors.js';
import type { ClientEvents, ClientState } from './events.js';
import { link, type Link } from './link.js';
import {
  checkSubscribe,
  resolveOptions,
  type ClientOptions,
  type ClientPublishOptions,
  type ResolvedOptions,
} from './options.js';
import { outbox, type Outbox } from './outbox.js';
import { publishPacer, type PublishPacer } from './pacer.js';
import { requests, waiting, type Requests, type Waiting } from './requests.js';
import { sendSubscribe, syncServerSubscriptions } from './server-subscriptions.js';
import { Subscription, type MessageHandler, type SubscribeOptions } from './subscription.js';
import type { TransportConnection } from './transport.js';
import type { Endpoints } from './endpoints.js';

export { Subscription } from './subscription.js';
export type { TokenProvider } from './refresh.js';
export type { Discontinuity, Message, MessageHandler, SubscribeOptions, SubscriptionEvents } from './subscription.js';
export { CLOSE, shouldReconnect } from '../close-codes.js';
export type { Position } from '../engine.js';
export type {
  HistoryResult,
  PresenceMember,
  PresenceResult,
  PublishResult,
  QoS,
  SubscribeResult,
} from '../protocol.js';
export type { PresenceUser, PresenceUsersResult } from '../user-presence.js';
export { CLIENT_ERROR, ClientError, type ClientErrorName } from './errors.js';
export type { ClientEvents, ClientState } from './events.js';
export type { ClientOptions, ClientPublishOptions } from './options.js';
export type { Endpoints } from './endpoints.js';
export type { ClientTransport, TransportClose, TransportConnection, TransportEvents } from './transport.js';
export { webSocketTransport, type WebSocketConstructor, type WebSocketLike } from './transport-websocket.js';

/** A connection to a switchyard server that survives disconnects. Create it with {@link connect}. */
export class Client extends EventEmitter<ClientEvents> {
  // Fields are `declare`d and set in the constructor: in the es2020 browser bundle every class
  // field otherwise costs a helper call, and the bundle has a budget (test/packaging.test.ts).
  declare state: ClientState;
  /** @internal */ declare readonly o: ResolvedOptions;
  /** @internal */ declare readonly link: Link;
  /** @internal The connection a refresh is running for, so one `refresh` request starts one loop. */
  declare refreshing: TransportConnection | undefined;
  /** @internal */ declare refreshTimer: ReturnType<typeof setTimeout> | undefined;
  // biome-ignore lint/suspicious/noExplicitAny: subscriptions of every payload type share this map or host
  /** @internal */ declare readonly subs: Map<string, Subscription<any>>;
  /** @internal */ declare readonly requests: Requests;
  /** @internal */ declare readonly acks: AckBatcher;
  declare private readonly waiting: Waiting;
  declare private readonly pacer: PublishPacer;
  declare private readonly outbox: Outbox;

  constructor(url: string | readonly string[] | Endpoints, options: ClientOptions = {}) {
    super();
    this.state = 'connecting';
    this.subs = new Map();
    this.pacer = publishPacer();
    this.acks = ackBatcher((ch, off) => this.sendRaw({ op: 'ack', ch, off }));
    this.o = resolveOptions(url, options);
    this.requests = requests(
      (f) => this.sendRaw(f),
      () => this.state,
    );
    this.waiting = waiting(this.o.offlineQueue, this.o.timeout, () => this.state);
    this.outbox = outbox(
      { live: () => this.state === 'connected' && this.link.welcomed, request: (f, t) => this.requests.request(f, t) },
      this.pacer,
      this.o,
    );
    this.link = link(this);
    void this.link.open();
  }

  /** Every endpoint given to {@link connect}; reconnects try them in turn. */
  get urls(): readonly string[] {
    return this.link.endpoints.all;
  }

  /** The endpoint of the current (or next) connection attempt. */
  get url(): string {
    return this.link.endpoints.current;
  }

  /** @internal */
  setState(s: ClientState): void {
    if (this.state === s) return;
    this.state = s;
    this.emit('state', s);
  }

  /** @internal The link lost its connection: requests pending on it fail. */
  lost(err: ClientError): void {
    this.requests.failAll(err);
  }

  /** @internal A decoded frame from the link. */
  frame(f: ServerFrame): void {
    dispatch(f, this);
  }

  /** @internal */
  onWelcome(f: WelcomeFrame): void {
    this.link.welcome(f.hb);
    this.acks.setWindow(f.win);
    this.pacer.reset(f.pr);
    this.setState('connected');
    this.emit('connected', { connectionId: f.cid });
    syncServerSubscriptions(this, f.subs ?? [], false);
    for (const s of this.subs.values()) void sendSubscribe(this, s);
    this.outbox.connected();
    this.waiting.resume();
  }

  /** @internal */
  stop(code: number, reason: string): void {
    if (this.state === 'closed') return;
    this.setState('closed');
    this.link.stop();
    clearTimeout(this.refreshTimer);
    this.acks.stop();
    const err = new ClientError(code, `client closed: ${reason || code}`);
    this.requests.failAll(err);
    this.outbox.stop(err);
    this.waiting.fail(err);
    for (const s of this.subs.values()) s.closed(err);
    this.emit('closed', { code, reason });
  }

  /** @internal Stops for good, reporting `code` (e.g. 3510 NO_TOKEN) in `closed`; the connection closes normally. */
  shutdown(code: number, reason: string): void {
    this.stop(code, reason);
    this.link.close(CLOSED, 'client closed');
  }

  /** @internal Sends a frame on the welcomed connection; false when there is none. */
  sendRaw(obj: object): boolean {
    return this.link.send(obj);
  }

  /** @internal */
  request<T>(frame: Record<string, unknown>, timeout = this.o.timeout, onReply?: (res: T) => void): Promise<T> {
    return this.requests.request(frame, timeout, onReply);
  }

  /** The subscription of `channel` (a server-side one included), if any. */
  subscription(channel: string): Subscription | undefined {
    return this.subs.get(channel);
  }

  /**
   * Subscribes to a channel or pattern. The handler receives each message once, in offset order.
   * Throws a TypeError when already subscribed to `channel` on this client.
   */
  subscribe<T = unknown>(channel: string, handler: MessageHandler<T>, options: SubscribeOptions = {}): Subscription<T> {
    if (this.subs.has(channel))
      throw new TypeError(`switchyard client: already subscribed to ${channel}; unsubscribe first`);
    checkSubscribe(channel, handler, options);
    const sub = new Subscription<T>(
      this,
      channel,
      handler,
      options.qos ?? 0,
      options.since,
      options.presence ?? false,
      options.userPresence ?? false,
    );
    this.subs.set(channel, sub);
    if (this.state === 'connected') void sendSubscribe(this, sub);
    return sub;
  }

  /** @internal */
  // biome-ignore lint/suspicious/noExplicitAny: subscriptions of every payload type share this map or host
  remove(sub: Subscription<any>): void {
    if (this.subs.get(sub.channel) !== sub) return;
    this.subs.delete(sub.channel);
    this.acks.forget(sub.channel);
    if (this.state === 'connected') this.request({ op: 'unsub', ch: sub.channel }).catch(() => {});
  }

  /** @internal Batches cumulative acks (ack-batcher.ts). */
  sendAck(channel: string, offset: number): void {
    this.acks.ack(channel, offset);
  }

  /**
   * Publishes `data` to `channel`. Resolves with the stored position once the server acknowledged.
   * QoS 0 is sent once: made while not connected it waits for the connection (at most `timeout`
   * ms, at most `offlineQueue` waiting calls), and rejects after `timeout` without a reply or when
   * the connection drops first; it is never retried. QoS 1 waits in the offline queue and is
   * retried across reconnects until `publishTimeout`, and is stored exactly once.
   */
  publish(channel: string, data: unknown, options: ClientPublishOptions = {}): Promise<PublishResult> {
    const qos = options.qos ?? 0;
    if (qos === 0) {
      return this.waiting.run(() => {
        // Unpaced (a QoS 0 publish is never retried), but it uses up the same server-side bucket.
        this.pacer.take();
        return this.request<PublishResult>({ op: 'pub', ch: channel, data });
      });
    }
    if (qos !== 1) return Promise.reject(new TypeError('switchyard client: qos must be 0 or 1'));
    if (this.state === 'closed') return Promise.reject(new ClientError(NO_ANSWER, 'client is closed'));
    return this.outbox.publish(channel, data);
  }

  /**
   * Reads a channel's history (authorized by the server like a subscribe). Made while not
   * connected it waits for the connection like a QoS 0 publish.
   */
  history(channel: string, options: { since?: Position; limit?: number } = {}): Promise<HistoryResult> {
    const frame: Record<string, unknown> = { op: 'hist', ch: channel };
    if (options.since) frame.since = options.since;
    if (options.limit !== undefined) frame.limit = options.limit;
    return this.waiting.run(() => this.request<HistoryResult>(frame));
  }

  /**
   * Who is subscribed to a presence channel right now: at most the server's
   * `limits.maxPresenceMembers` members, `truncated` when there are more. Rejects with a
   * `ClientError`: 117 when the channel has no presence, 107 when `authorize` denies. Made while
   * not connected it waits for the connection like a QoS 0 publish.
   */
  async presence(channel: string): Promise<PresenceResult> {
    const res = await this.waiting.run(() => this.request<PresenceResultWire>({ op: 'presence', ch: channel }));
    return {
      members: res.members.map((m) => ('info' in m ? { connectionId: m.cid, info: m.info } : { connectionId: m.cid })),
      truncated: res.truncated === true,
    };
  }

  /**
   * Presence by user: at most the server's `limits.maxPresenceMembers` users of a channel, each
   * with its number of connections across all nodes. Rejects with a `ClientError`: 117 when the
   * channel's rule has no `userPresence: true`, 107 when `authorize` denies.
   */
  async presenceUsers(channel: string): Promise<PresenceUsersResult> {
    const res = await this.request<PresenceUsersResultWire>({ op: 'presence', ch: channel, users: true });
    return {
      users: res.users.map((u) =>
        'info' in u ? { userId: u.id, connections: u.n, info: u.info } : { userId: u.id, connections: u.n },
      ),
      truncated: res.truncated === true,
    };
  }

  /** Closes the connection for good (no reconnect). Pending requests reject. */
  close(): void {
    this.shutdown(CLOSED, 'client closed');
  }
}

/**
 * Connects to a switchyard endpoint, e.g. `connect('ws://localhost:3000/realtime')`, or to any of
 * several nodes of a cluster (`connect(['ws://a/realtime', 'ws://b/realtime'])`): each reconnect
 * tries the next URL; or to the nearest region (`connect(nearestEndpoint([...]))`, docs/regions.md).
 * Throws a TypeError for an invalid URL or option.
 */
export function connect(url: string | readonly string[] | Endpoints, options: ClientOptions = {}): Client {
  return new Client(url, options);
}
