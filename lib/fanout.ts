/**
 * Fan-out: the router of local subscriptions, the broker interest they hold (ref-counted per
 * channel), the hub-wide pattern budget, and the delivery of each broker message to every
 * matching subscription with one serialized frame per message (per pattern for pattern
 * subscribers). This is the hot path: nothing here allocates per delivery.
 * @module
 */
import { SwitchyardError } from './errors.js';
import { msgFrameText } from './frames.js';
import type { HubContext } from './hub-context.js';
import type { BrokerMessage } from './engine.js';
import type { Subscription } from './delivery.js';
import { Router } from './router.js';

/** Local subscriptions and the broker interest behind them. @internal */
export class FanOut {
  readonly router = new Router<Subscription>();
  /** Patterns being subscribed (awaiting authorize) and not yet in the router, with their counts. */
  private readonly patternReservations = new Map<string, number>();
  private readonly interest = new Map<string, number>();
  private readonly interestReady = new Map<string, Promise<void>>();

  constructor(
    private readonly ctx: HubContext,
    /** Starts a catch-up for a subscription that detected a gap. */
    private readonly startCatchUp: (sub: Subscription) => void,
  ) {}

  /**
   * Reserves room for a subscription to `pattern` under `limits.maxPatternsPerHub` (a pattern
   * already in use or reserved always fits); false when the hub is full. Reservations cover the
   * time a subscribe awaits `authorize`, so concurrent subscribes cannot overshoot the cap; each
   * is released with {@link releasePattern}.
   */
  reservePattern(pattern: string): boolean {
    const n = this.patternReservations.get(pattern);
    if (
      n === undefined &&
      !this.router.hasPattern(pattern) &&
      this.router.distinctPatterns + this.patternReservations.size >= this.ctx.options.limits.maxPatternsPerHub
    )
      return false;
    this.patternReservations.set(pattern, (n ?? 0) + 1);
    return true;
  }

  /** Releases a reservation of {@link reservePattern} (the subscription is in the router now, or failed). */
  releasePattern(pattern: string): void {
    const n = this.patternReservations.get(pattern);
    if (n === undefined) return;
    if (n > 1) this.patternReservations.set(pattern, n - 1);
    else this.patternReservations.delete(pattern);
  }

  /** Registers a subscription in the router and declares broker interest. */
  async add(sub: Subscription): Promise<void> {
    this.router.add(sub.channel, sub.pattern, sub);
    const n = this.interest.get(sub.channel) ?? 0;
    this.interest.set(sub.channel, n + 1);
    let ready = this.interestReady.get(sub.channel);
    if (n === 0 || !ready) {
      ready = this.ctx.engine.broker.subscribe(sub.channel);
      ready.catch(() => {});
      this.interestReady.set(sub.channel, ready);
    }
    // Every subscriber waits for the broker subscription, not only the first: reading the
    // stream's position before the bus delivers would leave a window of unseen messages.
    try {
      await ready;
    } catch (err) {
      this.ctx.log('error', { err, channel: sub.channel }, 'broker subscribe failed');
      throw new SwitchyardError('ENGINE_UNAVAILABLE', `could not subscribe to ${sub.channel} on the broker`);
    }
  }

  /** Removes a subscription (idempotent). */
  remove(sub: Subscription): void {
    if (!sub.deactivate()) return;
    this.router.remove(sub.channel, sub.pattern, sub);
    this.ctx.presenceTracker.remove(sub);
    const n = this.interest.get(sub.channel);
    if (n === undefined) return;
    if (n > 1) this.interest.set(sub.channel, n - 1);
    else {
      this.interest.delete(sub.channel);
      this.interestReady.delete(sub.channel);
      this.ctx.engine.broker.unsubscribe(sub.channel).catch(() => {});
    }
  }

  /** Delivers one broker message to every local subscription it matches. */
  deliver(m: BrokerMessage): void {
    // Serialized once per message for all exact subscribers, and once per distinct pattern
    // (pattern frames name their pattern so a client routes each frame to one subscription).
    let exact: Buffer | undefined;
    let byPattern: Map<string, Buffer> | undefined;
    const inst = this.ctx.instruments;
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
        if (!frame)
          byPattern.set(
            sub.channel,
            (frame = Buffer.from(msgFrameText(m.channel, m.offset, m.epoch, m.payload, sub.channel))),
          );
      }
      if (sub.live(m, frame)) this.startCatchUp(sub);
      if (storedAt !== 0) inst.delivered(sub, m.offset, storedAt);
    });
    if (inst.enabled) inst.fannedOut(m.channel, m.offset, this.ctx.rules.for(m.channel).family, subscribers);
  }

  /** Exact channels with local subscribers and their subscriber counts. */
  channels(): Array<{ channel: string; subscribers: number }> {
    const out: Array<{ channel: string; subscribers: number }> = [];
    for (const ch of this.router.channels())
      out.push({ channel: ch, subscribers: this.router.exactSubscribers(ch)?.size ?? 0 });
    return out;
  }
}
