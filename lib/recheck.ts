/**
 * The re-check after a bus interruption: messages may have been missed on the bus, so every
 * exact subscription must compare itself with the store. It is done once per channel, not once
 * per subscription: a state call and one read serve every subscription of the channel, and its messages go
 * through the ordinary live path ({@link Subscription.live}), which sends each one exactly once
 * and in order. Only a subscription that is further behind than one batch reads on its own.
 * @module
 */
import { CATCH_UP_BATCH, SubState, type GapNotice, type ReplayFrames, type Subscription } from './delivery.js';
import type { Storage } from './engine.js';
import { catchUpGap } from './recovery.js';

/** What the re-check needs from the hub. */
export interface RecheckHost {
  readonly storage: Storage;
  readonly replayFrame: ReplayFrames;
  /** Sends a `gap` notice to the subscription's connection. */
  gap(sub: Subscription, notice: GapNotice): void;
  startCatchUp(sub: Subscription): void;
}

/** Re-checks the subscriptions of one exact channel against the store with one read. */
export async function recheckChannel(channel: string, subs: Subscription[], host: RecheckHost): Promise<void> {
  // A running catch-up may have done its last read before the outage: make it read again.
  for (const sub of subs) if (sub.state === SubState.CatchingUp) sub.rereadBeforeLive();
  const live = subs.filter((s) => s.state === SubState.Live);
  if (live.length === 0) return;
  // Two store calls per channel: its state, to report resets and trims first, then one read
  // from the oldest position any subscription still needs.
  const state = await host.storage.state(channel);
  for (const sub of live) {
    // A subscription that left live delivery during the state call (a live message of another
    // epoch, or a jump) has its own catch-up running, which reads the store and reports any reset itself.
    if (!sub.active || !sub.target.open || sub.state !== SubState.Live) continue;
    const gap = catchUpGap(sub.lastSent, sub.epoch, state);
    if (gap) {
      // What this subscription missed is gone: say why, then continue from the oldest kept message.
      sub.restartAt(state.earliest - 1, state.epoch);
      host.gap(sub, { offset: state.earliest - 1, epoch: state.epoch, reason: gap });
    }
  }
  const behind = live.filter((s) => s.active && s.target.open && s.epoch === state.epoch && s.lastSent < state.offset);
  if (behind.length === 0) return;
  let after = Infinity;
  for (const s of behind) after = Math.min(after, s.lastSent);
  const { messages, state: now } = await host.storage.read(channel, after, CATCH_UP_BATCH);
  if (now.epoch !== state.epoch) {
    // Reset again between the two calls: let each catch-up sort it out.
    for (const sub of behind) {
      if (sub.state !== SubState.Live) continue;
      sub.fallBehind();
      host.startCatchUp(sub);
    }
    return;
  }
  const gapped = new Set<Subscription>();
  for (const m of messages) {
    const frame = host.replayFrame(channel, state.epoch, m);
    const bm = { channel, offset: m.offset, epoch: state.epoch, payload: m.payload };
    for (const sub of behind) {
      if (gapped.has(sub) || !sub.active || sub.state !== SubState.Live) continue;
      // live() sends exactly lastSent + 1, skips what was sent, and reports a jump it cannot fill.
      if (sub.live(bm, frame)) {
        gapped.add(sub);
        host.startCatchUp(sub);
      }
    }
  }
  // Further behind than one batch: those catch up on their own.
  for (const sub of behind)
    if (!gapped.has(sub) && sub.active && sub.state === SubState.Live && sub.lastSent < now.offset) {
      sub.fallBehind();
      host.startCatchUp(sub);
    }
}
