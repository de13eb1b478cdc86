/**
 * Per-subscription delivery: the rule that keeps every subscriber's stream in offset order with
 * no gap and no duplicate, whether a message comes live from the broker or from history.
 *
 * One invariant drives it: `lastSent` is the offset of the last message sent to this
 * subscription. A live message is sent only if it is exactly `lastSent + 1`; anything older is
 * a duplicate and skipped, anything newer means something is missing and the subscription
 * catches up from the store. While catching up, live messages are not sent but buffered (a
 * bounded number) and remembered (`sawLive`): when history is exhausted the loop merges the
 * buffer by offset and goes live in the same synchronous step, so no live message can slip
 * between the last read and the switch, even while the channel is being published to.
 * @module
 */
import type { BrokerMessage, Storage, StoredMessage } from './engine.js';
import { dropFrame, msgFrameText } from './frames.js';
import type { GapReason, QoS } from './protocol.js';
import { catchUpGap } from './recovery.js';
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
  /** The connection id, for logs and latency samples. */
  readonly id: string;
  readonly open: boolean;
  /** True while the connection's queue is above the high-water mark. */
  readonly congested: boolean;
  send(frame: OutgoingFrame): void;
  /** Called when a QoS 0 message is dropped for this connection. */
  countDrop(): void;
  /** Closes the connection (e.g. 3003 when history cannot be read). */
  close(code: number, reason: string): void;
}

/**
 * One subscription of one connection. Its fields are written only in this file: other modules
 * change its state through its methods (test/architecture.test.ts checks this).
 */
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
  /** A catch-up loop is running for this subscription (set by the starter, cleared by {@link catchUp} as it returns). */
  catchingUp = false;
  /** Live messages seen while catching up, merged by offset when history is exhausted. */
  buffered: Array<{ offset: number; frame: OutgoingFrame }> = [];

  constructor(
    readonly target: DeliveryTarget,
    readonly channel: string,
    readonly pattern: boolean,
    readonly qos: QoS,
    readonly inflightWindow: number,
  ) {}

  /** Marks a pattern subscription live (patterns have no history to catch up). */
  goLive(): void {
    this.state = SubState.Live;
  }

  /**
   * Stops the subscription; returns false when it already was, so the caller releases what it
   * holds (router entry, broker interest, presence) exactly once.
   */
  deactivate(): boolean {
    if (!this.active) return false;
    this.active = false;
    return true;
  }

  /** Claims the one catch-up loop of this subscription; false when one is already running. */
  claimCatchUp(): boolean {
    if (this.catchingUp) return false;
    this.catchingUp = true;
    return true;
  }

  /** Makes a running catch-up read the store again before going live (messages may have been missed meanwhile). */
  rereadBeforeLive(): void {
    this.sawLive = Math.max(this.sawLive, this.lastSent + 1);
  }

  /** A live subscription found it is behind the store: it leaves live delivery until a catch-up brings it back. */
  fallBehind(): void {
    this.state = SubState.CatchingUp;
  }

  get windowFull(): boolean {
    return this.qos === 1 && this.lastSent - this.acked >= this.inflightWindow;
  }

  /** Sends a `drop` notice first if messages were dropped since the last one. */
  private sendFrame(frame: OutgoingFrame): void {
    if (this.dropped > 0) this.flushDrop();
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
      } else this.sendFrame(frame);
      return false;
    }
    if (m.epoch !== this.epoch) {
      // Another epoch: the store lost the stream (or this is a stale message from before a reset
      // this subscription already followed). The store decides which: a catch-up reports the
      // reset and replays the new epoch from its first retained offset, so nothing published
      // after the reset is skipped. Frames of another epoch are never buffered.
      if (this.state === SubState.Live) {
        this.state = SubState.CatchingUp;
        this.sawLive = this.lastSent + 1;
        return true;
      }
      if (this.state === SubState.CatchingUp) this.sawLive = Math.max(this.sawLive, this.lastSent + 1);
      return false;
    }
    if (this.state !== SubState.Live) {
      if (m.offset > this.sawLive) this.sawLive = m.offset;
      // Paused subscriptions buffer nothing: they catch up from the store, so memory stays bounded.
      if (this.state === SubState.CatchingUp && this.buffered.length < MAX_BUFFERED)
        this.buffered.push({ offset: m.offset, frame });
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
    this.sendFrame(frame);
    this.lastSent = m.offset;
    return false;
  }

  /** Continues after `offset` of `epoch` (history lost what came before): nothing older is sent, nothing buffered is kept. */
  restartAt(offset: number, epoch: string): void {
    this.epoch = epoch;
    this.lastSent = this.acked = offset;
    this.sawLive = 0;
    this.buffered.length = 0;
  }

  /** Sends the pending `drop` notice now (the connection drained), so a quiet channel still learns of its drops. */
  flushDrop(): void {
    if (this.dropped > 0 && this.active && this.target.open) {
      this.target.send(dropFrame(this.channel, this.dropped));
      this.dropped = 0;
    }
  }

  /** Records a cumulative ack; returns true when a paused subscription can resume. */
  ack(offset: number): boolean {
    if (offset > this.acked && offset <= this.lastSent) this.acked = offset;
    return this.state === SubState.Paused && !this.windowFull && !this.target.congested;
  }
}

/** Result of a catch-up that found history no longer covers the subscription. */
export interface GapNotice {
  /** Offset delivery continues after (the next message sent is `offset + 1`). */
  offset: number;
  epoch: string;
  reason: GapReason;
}

/** Builds (or reuses) the `msg` frame of a replayed message; the hub shares one per message across subscribers. */
export type ReplayFrames = (channel: string, epoch: string, m: StoredMessage) => OutgoingFrame;

/** Stops a catch-up until acks or a drained socket resume it; paused subscriptions buffer nothing. */
function pause(sub: Subscription): void {
  sub.state = SubState.Paused;
  sub.buffered.length = 0;
}

/** Messages read from history per round while catching up a QoS 0 subscription. */
export const CATCH_UP_BATCH = 100;
/** Live messages buffered per subscription while it catches up; beyond this it re-reads the store instead. */
const MAX_BUFFERED = 256;
/** Re-reads that find nothing new before a subscription goes live anyway (a message the bus delivered before the store shows it). */
const MAX_IDLE_REREADS = 2;

/**
 * Sends what `sub` missed from the store, then switches it live. Runs until caught up, paused
 * (window full or socket congested) or cancelled. `onGap` is called when history no longer
 * covers `lastSent` (the subscriber fell too far behind); delivery continues from the oldest
 * retained message.
 */
export async function catchUp(
  sub: Subscription,
  storage: Storage,
  onGap: (sub: Subscription, notice: GapNotice) => void,
  replayFrame: ReplayFrames = (channel, epoch, m) => msgFrameText(channel, m.offset, epoch, m.payload),
): Promise<void> {
  // The flag is cleared in the same synchronous step as the loop returns (not a microtask
  // later), so an ack or drain handled right after a pause starts the next loop instead of
  // finding this one still marked running.
  try {
    sub.state = SubState.CatchingUp;
    let idle = 0;
    for (;;) {
      if (!sub.active || !sub.target.open) return;
      if (sub.windowFull || sub.target.congested) return pause(sub);
      const limit =
        sub.qos === 1 ? Math.min(CATCH_UP_BATCH, sub.inflightWindow - (sub.lastSent - sub.acked)) : CATCH_UP_BATCH;
      const before = sub.lastSent;
      const readEpoch = sub.epoch;
      const { messages, state } = await storage.read(sub.channel, before, limit);
      if (!sub.active || !sub.target.open) return;
      // Someone else moved this subscription while the read was out (the re-check after a bus
      // interruption restarted it at a reset): the batch answers a position it no longer has,
      // and sending it would skip what lies between. Read again from where it is now.
      if (sub.lastSent !== before || sub.epoch !== readEpoch) continue;
      const gap = catchUpGap(sub.lastSent, sub.epoch, state);
      if (gap) {
        // History no longer holds what this subscriber missed: say so, then continue from the
        // oldest retained message. After a reset that is the start of the new epoch ("what came
        // before is gone", never "skip what comes after").
        const resumeFrom = state.earliest - 1;
        sub.restartAt(resumeFrom, state.epoch);
        onGap(sub, { offset: resumeFrom, epoch: state.epoch, reason: gap });
        continue;
      }
      // Congestion is checked before every write, not per batch: one batch of large messages
      // would otherwise overrun the queue caps and close a subscriber that reads fine with 3002.
      for (const m of messages) {
        if (m.offset <= sub.lastSent) continue;
        // Only the next offset is ever sent; a batch that does not continue is read again.
        if (m.offset !== sub.lastSent + 1) break;
        if (!sub.active || !sub.target.open) return;
        if (sub.target.congested) return pause(sub);
        sub.target.send(replayFrame(sub.channel, sub.epoch, m));
        sub.lastSent = m.offset;
      }
      if (sub.lastSent < state.offset) continue;
      // History is exhausted. Merge what arrived live meanwhile, in offset order; this and the
      // switch to live happen in one synchronous step, so no live message falls in between.
      if (sub.buffered.length) {
        sub.buffered.sort((a, b) => a.offset - b.offset);
        for (const b of sub.buffered) {
          if (b.offset <= sub.lastSent) continue;
          if (b.offset > sub.lastSent + 1 || sub.windowFull || sub.target.congested) break;
          sub.target.send(b.frame);
          sub.lastSent = b.offset;
        }
        sub.buffered = sub.buffered.filter((b) => b.offset > sub.lastSent);
      }
      if (sub.sawLive > sub.lastSent) {
        // Something newer was seen live but is neither read nor buffered yet: read again. Reads
        // that make progress do not count; if the store keeps lacking it, go live anyway and the
        // next live message re-detects the gap, so nothing spins and nothing is skipped silently.
        idle = sub.lastSent > before ? 0 : idle + 1;
        if (idle <= MAX_IDLE_REREADS) continue;
      }
      sub.sawLive = 0;
      sub.buffered.length = 0;
      sub.state = SubState.Live;
      return;
    }
  } finally {
    sub.catchingUp = false;
  }
}
