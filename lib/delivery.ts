/**
 * Per-subscription delivery: the rule that keeps every subscriber's stream in offset order with
 * no gap and no duplicate, whether a message comes live from the broker or from history.
 *
 * One invariant drives it: `lastSent` is the offset of the last message sent to this
 * subscription. A live message is sent only if it is exactly `lastSent + 1`; anything older is
 * a duplicate and skipped, anything newer means something is missing and the subscription
 * catches up from the store. While catching up, live messages are not sent but remembered
 * (`sawLive`), so the catch-up loop knows whether it must read once more before going live.
 * @module
 */
import type { BrokerMessage, Storage } from './engine.js';
import { msgFrameText, type QoS } from './protocol.js';
import type { OutgoingFrame } from './transport.js';

/** Subscription state. */
export const enum SubState {
  /** Live messages are sent as they arrive. */
  Live,
  /** Reading from history; live messages are remembered, not sent. */
  CatchingUp,
  /** Waiting for acks (QoS 1 window full) or for the socket to drain; resumes by catching up. */
  Paused,
}

/** What delivery needs from the connection that owns a subscription. */
export interface DeliveryTarget {
  readonly open: boolean;
  /** True while the connection's queue is above the high-water mark. */
  readonly congested: boolean;
  send(frame: OutgoingFrame): void;
  /** Called when a QoS 0 message is dropped for this connection. */
  countDrop(): void;
}

/** One subscription of one connection. */
export class Subscription {
  state = SubState.CatchingUp;
  /** Offset of the last message sent (or skipped, for QoS 0 drops). */
  lastSent = 0;
  /** Highest offset the client acknowledged (QoS 1). */
  acked = 0;
  /** Highest live offset seen while not live. */
  sawLive = 0;
  /** QoS 0 messages dropped since the last `drop` notice. */
  dropped = 0;
  epoch = '';
  active = true;
  /** A catch-up loop is running for this subscription. */
  catchingUp = false;

  constructor(
    readonly target: DeliveryTarget,
    readonly channel: string,
    readonly pattern: boolean,
    readonly qos: QoS,
    readonly inflightWindow: number,
  ) {}

  get windowFull(): boolean {
    return this.qos === 1 && this.lastSent - this.acked >= this.inflightWindow;
  }

  /** Sends a `drop` notice first if messages were dropped since the last one. */
  private sendFrame(frame: OutgoingFrame, channel: string): void {
    if (this.dropped > 0) {
      this.target.send('{"op":"drop","ch":"' + channel + '","n":' + this.dropped + '}');
      this.dropped = 0;
    }
    this.target.send(frame);
  }

  /**
   * Handles a live message. Returns true when the subscription needs a catch-up from history
   * (a gap was detected); the caller starts it.
   */
  live(m: BrokerMessage, frame: OutgoingFrame): boolean {
    if (!this.active || !this.target.open) return false;
    if (this.pattern) {
      // Patterns are live-only QoS 0 ([SUB-4]): no offsets are tracked across channels.
      if (this.target.congested) {
        this.dropped++;
        this.target.countDrop();
      } else this.sendFrame(frame, this.channel);
      return false;
    }
    if (m.epoch !== this.epoch) {
      // The stream was reset (store lost its history): continue from the new stream; the
      // client sees the epoch change on this message and reports the discontinuity.
      this.epoch = m.epoch;
      this.lastSent = this.acked = m.offset - 1;
      this.sawLive = 0;
    }
    if (this.state !== SubState.Live) {
      if (m.offset > this.sawLive) this.sawLive = m.offset;
      return false;
    }
    if (m.offset <= this.lastSent) return false;
    if (m.offset > this.lastSent + 1) {
      this.sawLive = m.offset;
      this.state = SubState.CatchingUp;
      return true;
    }
    if (this.qos === 1 && (this.windowFull || this.target.congested)) {
      this.sawLive = m.offset;
      this.state = SubState.Paused;
      return false;
    }
    if (this.target.congested) {
      this.dropped++;
      this.lastSent = m.offset;
      this.target.countDrop();
      return false;
    }
    this.sendFrame(frame, this.channel);
    this.lastSent = m.offset;
    return false;
  }

  /** Records a cumulative ack; returns true when a paused subscription can resume. */
  ack(offset: number): boolean {
    if (offset > this.acked && offset <= this.lastSent) this.acked = offset;
    return this.state === SubState.Paused && !this.windowFull && !this.target.congested;
  }
}

/** Result of a catch-up that found history no longer covers the subscription. */
export interface GapNotice {
  offset: number;
  epoch: string;
}

/** Messages read from history per round while catching up a QoS 0 subscription. */
const CATCH_UP_BATCH = 100;

/**
 * Sends what `sub` missed from the store, then switches it live. Runs until caught up, paused
 * (window full or socket congested) or cancelled. `onGap` is called when history no longer
 * covers `lastSent` (the subscriber fell too far behind); delivery continues from the oldest
 * retained message.
 */
export async function catchUp(sub: Subscription, storage: Storage, onGap: (sub: Subscription, notice: GapNotice) => void): Promise<void> {
  sub.state = SubState.CatchingUp;
  let rereads = 0;
  for (;;) {
    if (!sub.active || !sub.target.open) return;
    if (sub.windowFull || sub.target.congested) {
      sub.state = SubState.Paused;
      return;
    }
    const limit = sub.qos === 1 ? Math.min(CATCH_UP_BATCH, sub.inflightWindow - (sub.lastSent - sub.acked)) : CATCH_UP_BATCH;
    const { messages, state } = await storage.read(sub.channel, sub.lastSent, limit);
    if (!sub.active || !sub.target.open) return;
    const reset = state.epoch !== sub.epoch;
    if (reset || (state.earliest > sub.lastSent + 1 && state.offset > sub.lastSent)) {
      // History no longer holds what this subscriber missed: say so, then continue from what is kept.
      const resumeFrom = reset ? state.offset : state.earliest - 1;
      sub.epoch = state.epoch;
      sub.lastSent = sub.acked = resumeFrom;
      sub.sawLive = 0;
      onGap(sub, { offset: resumeFrom, epoch: state.epoch });
      continue;
    }
    for (const m of messages) {
      if (m.offset <= sub.lastSent) continue;
      sub.target.send(msgFrameText(sub.channel, m.offset, sub.epoch, m.payload));
      sub.lastSent = m.offset;
    }
    if (sub.lastSent < state.offset) continue;
    // Caught up with the snapshot. A live message seen meanwhile may be newer than the snapshot:
    // read once more. If the store still does not have it, go live anyway; the next live
    // message re-detects any gap, so nothing spins and nothing is skipped silently.
    if (sub.sawLive > sub.lastSent && rereads++ < 2) continue;
    sub.sawLive = 0;
    sub.state = SubState.Live;
    return;
  }
}
