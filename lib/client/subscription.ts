/**
 * A client-side subscription: tracks the stream position, de-duplicates by offset, runs the
 * handler (serially for QoS 1) and reports discontinuities exactly once each.
 * @module
 */
import { EventEmitter } from 'eventemitter3';
import { isPattern } from '../channel-name.js';
import type { Position } from '../engine.js';
import type { GapReason, PresenceMember, PresenceResult, QoS, SubscribeResult } from '../protocol.js';
import type { PresenceUsersResult } from '../user-presence.js';

/** A message as the application's handler sees it. */
export interface Message<T = unknown> {
  channel: string;
  data: T;
  /** Offset in the channel's stream. */
  offset: number;
  /** Epoch of the stream the offset belongs to. */
  epoch: string;
}

/**
 * Why continuity was lost; the application should reload state it derived from the channel.
 * The one table of reasons, with the server frame behind each, is in docs/guarantees.md
 * ("Discontinuities").
 */
export interface Discontinuity {
  /**
   * - `reset`: the server's store lost the stream (its epoch changed): a resubscribe found another
   *   epoch, or the server reported a reset while subscribed (`gap` frame with reason `reset`), or
   *   a message of a new epoch arrived. Delivery continues with the new epoch from its start.
   * - `trimmed`: history no longer holds what this subscription missed (too old by size or age),
   *   on a resubscribe or while it was behind; delivery continues from the oldest kept message.
   * - `cap`: a resubscribe missed more than the channel's `recoveryCap` messages; the server does
   *   not replay them (they may still be readable with `history()`); delivery continues live.
   * - `gap`: an offset was skipped on a live QoS 0 subscription (messages dropped for a slow connection).
   */
  reason: 'reset' | 'trimmed' | 'cap' | 'gap';
  /** Position the subscription continues from. */
  position: Position;
}

/** Handler of delivered messages. For QoS 1 a returned promise is awaited before the message is acknowledged. */
export type MessageHandler<T = unknown> = (message: Message<T>) => void | Promise<void>;

/** Options of `client.subscribe()`. */
export interface SubscribeOptions {
  /** 0 (default): at most once. 1: acknowledged, redelivered after reconnect until the handler finished. */
  qos?: QoS;
  /** Resume after this position (e.g. one your app persisted); missed messages are replayed first. */
  since?: Position;
  /**
   * Also receive `join`/`leave` events of the channel's presence (default false). The channel's
   * server rule needs `presence: true` (else the subscription is refused with 117) and the
   * server's `authorize` must allow action `presence` (else 107); exact channels only. Events
   * are not replayed after a reconnect: re-read `presence()` on `subscribed`.
   */
  presence?: boolean;
  /**
   * Also receive user-level `userJoin`/`userLeave` events (default false): a user's first
   * connection joining and its last leaving, whatever its number of tabs, across all nodes. The
   * server rule needs `userPresence: true` (else 117) and `authorize` must allow `presence` (else
   * 107). Read the list with `presenceUsers()` on `subscribed`: events are not replayed.
   */
  userPresence?: boolean;
}

/** Events of a {@link Subscription}. */
export interface SubscriptionEvents {
  /** The server confirmed the (re)subscription. */
  subscribed: (result: SubscribeResult) => void;
  /** Continuity was lost; fired once per discontinuity. */
  discontinuity: (info: Discontinuity) => void;
  /** The server dropped `count` QoS 0 messages because this connection could not keep up. */
  drop: (count: number) => void;
  /** The server refused the subscription (e.g. 107 FORBIDDEN); it is then inactive. */
  error: (err: Error) => void;
  /** The handler threw; the message still counts as processed. */
  handlerError: (err: unknown, message: Message) => void;
  /** A connection joined the channel's presence (only with `presence: true`; includes this client's own join). */
  join: (member: PresenceMember) => void;
  /** A connection left the channel's presence (only with `presence: true`). */
  leave: (member: { connectionId: string }) => void;
  /** A user's first connection joined the channel (only with `userPresence: true`). */
  userJoin: (user: { userId: string; info?: unknown }) => void;
  /** A user's last connection left the channel (only with `userPresence: true`). */
  userLeave: (user: { userId: string }) => void;
  /** A message of a server-side subscription (which has no handler of its own; docs/identity.md). */
  message: (message: Message) => void;
  /** The server ended the subscription (121 no longer authorized, 122 `hub.unsubscribe`); it is then inactive. */
  ended: (err: Error) => void;
}

/** Hooks the client gives each subscription. @internal */
export interface SubscriptionHost {
  sendAck(channel: string, offset: number): void;
  // biome-ignore lint/suspicious/noExplicitAny: subscriptions of every payload type share this map or host
  remove(sub: Subscription<any>): void;
  presence(channel: string): Promise<PresenceResult>;
  presenceUsers(channel: string): Promise<PresenceUsersResult>;
}

/** A live subscription returned by `client.subscribe()`. */
export class Subscription<T = unknown> extends EventEmitter<SubscriptionEvents> {
  // Fields are `declare`d and set in the constructor: in the es2020 browser bundle every class
  // field otherwise costs a helper call, and the bundle has a budget (test/packaging.test.ts).
  /** Position after the last message the handler processed; persist it and pass it as `since` later. */
  declare position: Position | undefined;
  /** Whether the subscription is active (false after `unsubscribe()` or a refusal). */
  declare active: boolean;
  /** @internal */
  declare readonly pattern: boolean;
  declare readonly channel: string;
  declare readonly qos: QoS;
  /** Whether this subscription asked for presence events. */
  declare readonly presenceEvents: boolean;
  /** Whether this subscription asked for user-level presence events. */
  declare readonly userPresenceEvents: boolean;
  /** Whether the server subscribed this client (a channel from its grant) rather than the app. */
  declare readonly server: boolean;
  declare private readonly host: SubscriptionHost;
  declare private readonly handler: MessageHandler<T>;
  declare private queue: Message<T>[];
  declare private running: boolean;
  /** Offset of the last message accepted for processing (may run ahead of `position`). */
  declare private accepted: Position | undefined;
  /** Bumped when continuity restarts at a new position, so a handler that was running meanwhile cannot move `position` back. */
  declare private generation: number;
  declare private settle: { resolve: (r: SubscribeResult) => void; reject: (e: Error) => void } | undefined;
  /**
   * Resolves with the first subscribe result; rejects with a `ClientError` when the server refuses
   * (e.g. 107) or the client stops for good before the server answered (the close code).
   */
  declare readonly ready: Promise<SubscribeResult>;

  /** @internal Subscriptions are made by `client.subscribe()`. */
  constructor(
    host: SubscriptionHost,
    channel: string,
    handler: MessageHandler<T>,
    qos: QoS,
    since: Position | undefined,
    presenceEvents = false,
    userPresenceEvents = false,
    server = false,
  ) {
    super();
    this.host = host;
    this.channel = channel;
    this.handler = handler;
    this.qos = qos;
    this.presenceEvents = presenceEvents;
    this.userPresenceEvents = userPresenceEvents;
    this.server = server;
    this.active = true;
    this.queue = [];
    this.running = false;
    this.generation = 0;
    this.pattern = isPattern(channel);
    this.position = since;
    this.accepted = since;
    this.ready = new Promise((resolve, reject) => (this.settle = { resolve, reject }));
    this.ready.catch(() => {});
  }

  /** Stops the subscription; no handler call follows. */
  unsubscribe(): void {
    if (!this.active) return;
    this.active = false;
    this.queue.length = 0;
    this.host.remove(this);
  }

  /**
   * Who is subscribed to the channel right now (see `Client.presence`). Works whether or not
   * this subscription asked for events; rejects with the server's error (e.g. 117, 107).
   */
  presence(): Promise<PresenceResult> {
    return this.host.presence(this.channel);
  }

  /** Users present in the channel, one per user with its connection count (see `Client.presenceUsers`). */
  presenceUsers(): Promise<PresenceUsersResult> {
    return this.host.presenceUsers(this.channel);
  }

  /** @internal A user-level presence event for this subscription. */
  userPresenceEvent(kind: 'ujoin' | 'uleave', u: { id?: unknown; info?: unknown }): void {
    if (!this.active || !this.userPresenceEvents || typeof u?.id !== 'string') return;
    if (kind === 'uleave') this.emit('userLeave', { userId: u.id });
    else this.emit('userJoin', 'info' in u ? { userId: u.id, info: u.info } : { userId: u.id });
  }

  /** @internal A presence event for this subscription. */
  presenceEvent(kind: 'join' | 'leave', m: { cid?: unknown; info?: unknown }): void {
    if (!this.active || !this.presenceEvents || typeof m?.cid !== 'string') return;
    if (kind === 'leave') this.emit('leave', { connectionId: m.cid });
    else this.emit('join', 'info' in m ? { connectionId: m.cid, info: m.info } : { connectionId: m.cid });
  }

  /** @internal Position to resume from when (re)subscribing. */
  get resumeFrom(): Position | undefined {
    return this.pattern ? undefined : this.position;
  }

  /** @internal */
  subscribed(result: SubscribeResult, askedSince: boolean): void {
    if (!this.pattern && result.position) {
      if (!askedSince || !result.recovered) {
        // Not recovering: continue from the stream's current position.
        this.position = this.accepted = { ...result.position };
        this.queue.length = 0;
        this.generation++;
        if (askedSince)
          this.emit('discontinuity', { reason: result.reason ?? 'reset', position: { ...result.position } });
      } else {
        // Recovering: anything queued beyond the processed position will be replayed.
        this.queue.length = 0;
        this.accepted = this.position;
      }
    }
    this.settle?.resolve(result);
    this.settle = undefined;
    this.emit('subscribed', result);
  }

  /** @internal The client stopped for good: a subscribe still unanswered rejects `ready` with the close error. */
  closed(err: Error): void {
    this.active = false;
    this.settle?.reject(err);
    this.settle = undefined;
  }

  /** @internal */
  refused(err: Error): void {
    this.active = false;
    this.settle?.reject(err);
    this.settle = undefined;
    if (this.listenerCount('error') > 0) this.emit('error', err);
  }

  /** @internal The server ended the subscription. */
  ended(err: Error): void {
    if (!this.active) return;
    this.active = false;
    this.queue.length = 0;
    this.settle?.reject(err);
    this.settle = undefined;
    this.emit('ended', err);
  }

  /** @internal */
  gap(position: Position, reason: GapReason): void {
    this.queue.length = 0;
    this.generation++;
    this.position = this.accepted = { ...position };
    this.emit('discontinuity', { reason, position: { ...position } });
  }

  /** @internal */
  dropped(n: number): void {
    this.emit('drop', n);
  }

  /** @internal A delivered message for this subscription. */
  deliver(msg: Message<T>): void {
    if (!this.active) return;
    if (!this.pattern) {
      const acc = this.accepted;
      if (acc && acc.epoch === msg.epoch) {
        if (msg.offset <= acc.offset) return; // duplicate (redelivery or replay overlap)
        if (msg.offset > acc.offset + 1)
          this.emit('discontinuity', { reason: 'gap', position: { offset: msg.offset - 1, epoch: msg.epoch } });
      } else if (acc && acc.epoch !== msg.epoch) {
        this.emit('discontinuity', { reason: 'reset', position: { offset: msg.offset - 1, epoch: msg.epoch } });
      }
      this.accepted = { offset: msg.offset, epoch: msg.epoch };
    }
    if (this.qos === 0) {
      this.run(msg);
      if (!this.pattern) this.position = { offset: msg.offset, epoch: msg.epoch };
      return;
    }
    this.queue.push(msg);
    if (!this.running) void this.drain();
  }

  private run(msg: Message<T>): void | Promise<void> {
    try {
      const r = this.handler(msg);
      if (r && typeof (r as Promise<void>).then === 'function')
        return (r as Promise<void>).catch((e) => void this.emit('handlerError', e, msg));
    } catch (e) {
      this.emit('handlerError', e, msg);
    }
  }

  // QoS 1: one message at a time, acknowledged (cumulatively, batched by the client) after the handler finished.
  private async drain(): Promise<void> {
    this.running = true;
    while (this.queue.length && this.active) {
      const msg = this.queue.shift()!;
      // A replay after reconnect can repeat the message that was running when the socket dropped.
      if (this.position && this.position.epoch === msg.epoch && msg.offset <= this.position.offset) continue;
      const generation = this.generation;
      await this.run(msg);
      if (!this.active) break;
      // Continuity restarted while the handler ran: the message belongs to before the new position.
      if (generation !== this.generation) continue;
      this.position = { offset: msg.offset, epoch: msg.epoch };
      this.host.sendAck(this.channel, msg.offset);
    }
    this.running = false;
  }
}
