/**
 * One client connection: validates each inbound frame, runs the request it carries, and owns
 * the connection's subscriptions, rate limit and backpressure state. Nothing a client sends can
 * throw out of `receive()`: every handler's failure becomes an error frame.
 * @module
 */
import { isPattern } from './channel-name.js';
import { CLOSE, capCloseReason } from './close-codes.js';
import type { ConnectionHost } from './connection-host.js';
import { SubState, Subscription, type DeliveryTarget } from './delivery.js';
import { ERRORS, SwitchyardError, type ErrorName } from './errors.js';
import { CLIENT_KEY_PREFIX } from './engine.js';
import { newEpoch } from './epoch.js';
import { endFrame, errFrame, okEmptyFrame, okTextFrame, publishedFrame, subscribedFrame } from './frames.js';
import type {
  AckFrame,
  ClientFrame,
  HistFrame,
  PresenceFrame,
  PubFrame,
  QoS,
  SubFrame,
  SubscribeResult,
  UnsubFrame,
} from './protocol.js';
import { subscribeStart } from './recovery.js';
import type { ConnectionInput, OutgoingFrame, Transport } from './transport.js';
import { binaryLength, storedFromBase64 } from './payload.js';
import { ACK_HEAD, sdkAckOffset, textLargerThan, validateFrame } from './validate.js';

// Errors that mean the client sent something malformed (they count toward maxBadFrames).
const PROTOCOL_ERRORS = new Set<ErrorName>([
  'BAD_JSON',
  'BAD_FRAME',
  'UNKNOWN_OP',
  'BAD_CHANNEL',
  'BINARY_NOT_SUPPORTED',
  'MESSAGE_TOO_LARGE',
]);

let nextId = 0;

/** A client connection as the hub sees it. */
export class Connection implements DeliveryTarget, ConnectionInput {
  readonly id: string;
  open = true;
  /** Set by any inbound frame; cleared by each heartbeat round. */
  alive = true;
  readonly subs = new Map<string, Subscription>();
  /** `performance.now()` when the queue went above the high-water mark; 0 when below. */
  congestedSince = 0;
  dropped = 0;
  /** The id `hub.disconnect({user})` and friends find this connection by (the `userId` option). */
  userKey: string | undefined;
  /** Channels the server subscribed this connection to ([SSUB-*]); they need no `authorize`. */
  serverChannels: ReadonlyMap<string, QoS> | undefined;
  /** The upgrade's url and address, for re-running `authenticate` at refresh without a `refresh` hook. */
  request: { url: string; remoteAddress?: string } | undefined;
  /** Frames received, for the admin page's top talkers. */
  framesIn = 0;
  /** Publishes refused by the rate limit. */
  rateLimited = 0;
  /** Remote address the adapter reported, for logs and the admin page. */
  remoteAddress: string | undefined;
  readonly openedAt = Date.now();
  private badFrames = 0;
  private refreshing = false;
  /** Ids of requests still awaiting their reply ([FR-6]); bounded by what the handlers await. */
  private readonly pendingIds = new Set<number>();
  private tokens: number;
  private refilledAt = performance.now();

  constructor(
    private readonly hub: ConnectionHost<Connection>,
    readonly transport: Transport,
    /** What the last authentication (or refresh) returned. */
    public user: unknown,
  ) {
    // A counter for uniqueness in this process, random hex so ids are not guessable across restarts.
    this.id = (++nextId).toString(36) + '-' + newEpoch().slice(0, 6);
    this.tokens = hub.options.limits.publishesPerSecond;
  }

  get congested(): boolean {
    return this.congestedSince !== 0;
  }

  send(frame: OutgoingFrame): void {
    if (!this.open) return;
    this.transport.send(frame);
    const queued = this.transport.bufferedAmount;
    const { queueHighWaterBytes, maxQueuedBytes } = this.hub.options.limits;
    if (queued > queueHighWaterBytes && this.congestedSince === 0) {
      if (queued > maxQueuedBytes) {
        this.close(CLOSE.SLOW_CONSUMER, 'send queue over limits.maxQueuedBytes');
        return;
      }
      this.congestedSince = performance.now();
      this.hub.markCongested(this);
    } else if (queued > maxQueuedBytes) {
      this.close(CLOSE.SLOW_CONSUMER, 'send queue over limits.maxQueuedBytes');
    }
  }

  countDrop(): void {
    this.dropped++;
    this.hub.counters.dropped++;
  }

  private sendError(reason: ErrorName, detail: string | undefined, id?: number): void {
    this.send(errFrame(ERRORS[reason].code, detail ?? ERRORS[reason].message, id));
  }

  /** Starts a close handshake and releases everything the connection holds. */
  close(code: number, reason: string): void {
    if (!this.open) return;
    this.transport.close(code, capCloseReason(reason), code === CLOSE.SLOW_CONSUMER);
    this.closed(code);
  }

  closed(code: number): void {
    if (!this.open) return;
    this.open = false;
    for (const sub of this.subs.values()) this.hub.removeSubscription(sub);
    this.subs.clear();
    this.hub.connectionClosed(this, code);
  }

  receive(data: string, binary: boolean): void {
    if (!this.open) return;
    this.alive = true;
    this.framesIn++;
    if (!binary && this.quickAck(data)) return;
    const check = validateFrame(data, binary, this.hub.options.limits);
    if ('error' in check) {
      this.sendError(check.error, check.detail, check.id);
      if (!PROTOCOL_ERRORS.has(check.error)) return;
      this.hub.counters.badFrames++;
      if (++this.badFrames > this.hub.options.limits.maxBadFrames) {
        this.close(CLOSE.TOO_MANY_ERRORS, `more than ${this.hub.options.limits.maxBadFrames} invalid frames`);
      }
      return;
    }
    const f = check.frame;
    const id = 'id' in f ? f.id : undefined;
    // [FR-6] An id still waiting for its reply cannot be reused: the two replies would be indistinguishable.
    if (id !== undefined && this.pendingIds.has(id))
      return this.sendError('DUPLICATE_REQUEST_ID', `[FR-6] request ${id} is still pending; use a new id`, id);
    let pending: Promise<void> | undefined;
    try {
      pending = this.dispatch(f);
    } catch (err) {
      // Synchronous handlers (unsub, ack) must not throw into the socket's event handler either.
      return this.fail(err, id);
    }
    if (!pending) return;
    if (id !== undefined) this.pendingIds.add(id);
    pending
      .catch((err: unknown) => this.fail(err, id))
      .finally(() => {
        if (id !== undefined) this.pendingIds.delete(id);
      });
  }

  private dispatch(f: ClientFrame): Promise<void> | undefined {
    let pending: Promise<void> | undefined;
    switch (f.op) {
      case 'sub':
        pending = this.subscribe(f);
        break;
      case 'unsub':
        this.unsubscribe(f);
        break;
      case 'pub':
        pending = this.publish(f);
        break;
      case 'ack':
        this.ack(f);
        break;
      case 'hist':
        pending = this.history(f);
        break;
      case 'presence':
        pending = this.presence(f);
        break;
      case 'refresh':
        // [REF-6] each refresh runs the app's hook: one at a time, and within the publish rate.
        if (this.refreshing || !this.takeToken()) {
          this.sendError(
            'RATE_LIMITED',
            '[REF-6] one refresh at a time, at most limits.publishesPerSecond per second',
            f.id,
          );
          break;
        }
        this.refreshing = true;
        pending = this.hub.refreshConnection(this, f).finally(() => (this.refreshing = false));
        break;
      case 'pong':
        break;
      case 'ping':
        this.send(okEmptyFrame(f.id));
        break;
    }
    return pending;
  }

  private fail(err: unknown, id: number | undefined): void {
    if (err instanceof SwitchyardError) {
      this.sendError(err.reason, err.message, id);
      return;
    }
    this.hub.log('error', { err, connectionId: this.id }, 'request failed');
    this.sendError('INTERNAL', undefined, id);
  }

  private async subscribe(f: SubFrame): Promise<void> {
    const { limits } = this.hub.options;
    if (this.subs.has(f.ch)) return this.sendError('ALREADY_SUBSCRIBED', `[SUB-5] already subscribed to ${f.ch}`, f.id);
    if (this.subs.size >= limits.maxChannelsPerConnection) {
      return this.sendError(
        'TOO_MANY_CHANNELS',
        `[SUB-6] at most ${limits.maxChannelsPerConnection} subscriptions per connection`,
        f.id,
      );
    }
    const pattern = isPattern(f.ch);
    if (pattern) {
      let mine = 0;
      for (const s of this.subs.values()) if (s.pattern) mine++;
      if (mine >= limits.maxPatternsPerConnection) {
        return this.sendError(
          'TOO_MANY_PATTERNS',
          `[SUB-10] at most ${limits.maxPatternsPerConnection} pattern subscriptions per connection`,
          f.id,
        );
      }
    }
    const rule = pattern ? undefined : this.hub.rule(f.ch);
    if ((f.qos === 1 || f.since) && rule && rule.history === false) {
      return this.sendError(
        'HISTORY_DISABLED',
        `[SUB-7] ${f.ch} keeps no history, so QoS 1 and recovery are unavailable`,
        f.id,
      );
    }
    if (f.presence && !rule!.presence)
      return this.sendError(
        'PRESENCE_DISABLED',
        `[PRES-2] ${f.ch} has no presence; add a channel rule with presence: true`,
        f.id,
      );
    if (f.users && !rule!.userPresence)
      return this.sendError(
        'PRESENCE_DISABLED',
        `[PRES-8] ${f.ch} has no presence by user; add userPresence: true to its channel rule`,
        f.id,
      );
    if (pattern && !this.hub.reservePattern(f.ch)) {
      return this.sendError(
        'HUB_PATTERNS_FULL',
        `[SUB-10] this hub already has ${limits.maxPatternsPerHub} distinct patterns; subscribe to one in use or to exact channels`,
        f.id,
      );
    }
    const sub = new Subscription(this, f.ch, pattern, f.qos ?? 0, limits.inflightWindow);
    // Reserve the name now so a second sub for it is refused while this one is pending.
    this.subs.set(f.ch, sub);
    // [SUB-11] An unsub (or close) while this subscribe awaits authorize or the store still gets a reply.
    const cancelled = (): void =>
      this.sendError('NOT_SUBSCRIBED', `[SUB-11] ${f.ch} was unsubscribed before the subscribe completed`, f.id);
    try {
      // [SSUB-2] a channel the server granted needs no authorize approval.
      if (!this.serverChannels?.has(f.ch) && !(await this.hub.authorized('subscribe', f.ch, this))) {
        throw new SwitchyardError('FORBIDDEN', `[SUB-8] subscribe to ${f.ch} denied`);
      }
      // Join/leave events reveal the member list, so asking for them needs the presence right too.
      if ((f.presence || f.users) && !(await this.hub.authorized('presence', f.ch, this))) {
        throw new SwitchyardError('FORBIDDEN', `[PRES-4] presence events of ${f.ch} denied`);
      }
      if (!sub.active) return cancelled();
      await this.hub.addSubscription(sub);
      if (!sub.active) return cancelled();
      if (pattern) {
        sub.goLive();
        this.send(okEmptyFrame(f.id));
        return;
      }
      // [PRES-1] a member from before the reply, so whoever got the reply finds itself listed.
      if (rule!.presence)
        await this.hub.presenceTracker.join(sub, this.id, this.user, rule!.userPresence ? this.userKey : undefined);
      if (!sub.active) return cancelled();
      const state = await this.hub.storage.state(f.ch, f.since);
      if (!sub.active) return cancelled();
      const cap = rule!.history === false ? 0 : rule!.history.recoveryCap;
      const { recovered, reason, start, position } = subscribeStart(f.since, state, cap);
      sub.restartAt(start, state.epoch);
      const res: SubscribeResult = reason ? { recovered, position, reason } : { recovered, position };
      this.send(subscribedFrame(f.id, res));
      if (rule!.presence) this.hub.presenceTracker.announce(sub, f.presence === true, f.users === true);
      this.hub.startCatchUp(sub);
    } catch (err) {
      if (this.subs.get(f.ch) === sub) this.subs.delete(f.ch);
      this.hub.removeSubscription(sub);
      throw err;
    } finally {
      // In the router by now, or failed: either way the reservation has done its job.
      if (pattern) this.hub.releasePattern(f.ch);
    }
  }

  private unsubscribe(f: UnsubFrame): void {
    const sub = this.subs.get(f.ch);
    if (!sub) return this.sendError('NOT_SUBSCRIBED', `[UNSUB-2] not subscribed to ${f.ch}`, f.id);
    this.subs.delete(f.ch);
    this.hub.removeSubscription(sub);
    this.send(okEmptyFrame(f.id));
  }

  /** [END-1] Ends a subscription from the server side and tells the client why. */
  endSubscription(sub: Subscription, reason: ErrorName, detail: string): void {
    if (this.subs.get(sub.channel) !== sub) return;
    this.subs.delete(sub.channel);
    this.hub.removeSubscription(sub);
    this.send(endFrame(sub.channel, ERRORS[reason].code, detail));
  }

  private takeToken(): boolean {
    const rate = this.hub.options.limits.publishesPerSecond;
    const now = performance.now();
    this.tokens = Math.min(rate, this.tokens + ((now - this.refilledAt) * rate) / 1000);
    this.refilledAt = now;
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }

  private async publish(f: PubFrame): Promise<void> {
    if (!this.takeToken()) {
      this.hub.rateLimitedPublish(this);
      return this.sendError(
        'RATE_LIMITED',
        `[PUB-6] more than ${this.hub.options.limits.publishesPerSecond} publishes per second`,
        f.id,
      );
    }
    if (!this.hub.rule(f.ch).clientPublish) {
      return this.sendError(
        'PUBLISH_DISABLED',
        `[PUB-7] clients may not publish to ${f.ch}; add a channel rule with clientPublish: true`,
        f.id,
      );
    }
    if (!(await this.hub.authorized('publish', f.ch, this)))
      throw new SwitchyardError('FORBIDDEN', `[PUB-8] publish to ${f.ch} denied`);
    const payload = f.bin === undefined ? JSON.stringify(f.data) : storedFromBase64(f.bin);
    if (payload === undefined) return this.sendError('BAD_FRAME', '[BIN-2] bin is not base64', f.id);
    const max = this.hub.options.limits.maxMessageBytes;
    // [BIN-3] bytes count as themselves, not as their base64.
    if (f.bin === undefined ? textLargerThan(payload, max) : binaryLength(payload) > max) {
      return this.sendError('MESSAGE_TOO_LARGE', `[PUB-5] data is larger than ${max} bytes`, f.id);
    }
    const res = await this.hub.publishPayload(
      f.ch,
      payload,
      f.mid === undefined ? undefined : CLIENT_KEY_PREFIX + f.mid,
    );
    if (f.id !== undefined) this.send(publishedFrame(f.id, res));
  }

  private ack(f: AckFrame): void {
    const sub = this.subs.get(f.ch);
    if (!sub) return this.sendError('NOT_SUBSCRIBED', `[ACK-3] not subscribed to ${f.ch}`);
    this.acked(sub, f.off);
  }

  /**
   * An ack in the SDK's exact shape for an exact channel of this connection, handled without
   * `JSON.parse` or a frame object; false leaves the frame to the validator (and its errors).
   */
  private quickAck(data: string): boolean {
    const off = sdkAckOffset(data);
    if (off < 0) return false;
    const sub = this.subs.get(data.slice(ACK_HEAD.length, data.indexOf('"', ACK_HEAD.length)));
    if (sub === undefined || sub.pattern) return false;
    this.acked(sub, off);
    return true;
  }

  private acked(sub: Subscription, off: number): void {
    this.hub.instruments.acked(sub, off);
    if (sub.ack(off)) this.hub.startCatchUp(sub);
  }

  private async history(f: HistFrame): Promise<void> {
    if (!(await this.hub.authorized('history', f.ch, this)))
      throw new SwitchyardError('FORBIDDEN', `[HIST-4] history of ${f.ch} denied`);
    const text = await this.hub.historyText(f.ch, f.since, f.limit);
    if (this.open) this.send(okTextFrame(f.id, text));
  }

  private async presence(f: PresenceFrame): Promise<void> {
    if (!(await this.hub.authorized('presence', f.ch, this)))
      throw new SwitchyardError('FORBIDDEN', `[PRES-4] presence of ${f.ch} denied`);
    if (!this.hub.rule(f.ch).presence)
      throw new SwitchyardError(
        'PRESENCE_DISABLED',
        `[PRES-5] ${f.ch} has no presence; add a channel rule with presence: true`,
      );
    if (f.users && !this.hub.rule(f.ch).userPresence)
      throw new SwitchyardError(
        'PRESENCE_DISABLED',
        `[PRES-9] ${f.ch} has no presence by user; add userPresence: true to its channel rule`,
      );
    const max = this.hub.options.limits.maxPresenceMembers;
    const text = f.users
      ? await this.hub.presenceTracker.usersText(f.ch, max)
      : await this.hub.presenceTracker.membersText(f.ch, max);
    if (this.open) this.send(okTextFrame(f.id, text));
  }

  /** Resumes subscriptions paused by congestion once the queue drained. */
  drained(): void {
    this.congestedSince = 0;
    for (const sub of this.subs.values()) {
      // Tell about QoS 0 drops now rather than with the next message, which a quiet channel may never send.
      sub.flushDrop();
      if (sub.state === SubState.Paused && !sub.windowFull) this.hub.startCatchUp(sub);
    }
  }
}
