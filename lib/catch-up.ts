/**
 * Catch-up orchestration: starts one catch-up loop per subscription that fell behind, shares the
 * replayed `msg` frames between subscribers catching up the same messages, sends `gap` notices,
 * closes a connection whose history cannot be read, and re-checks every channel after a bus
 * interruption. The delivery rule itself is in `delivery.ts`; the recovery decision in `recovery.ts`.
 * @module
 */
import { LRUCache } from 'lru-cache';
import { CLOSE } from './close-codes.js';
import { catchUp, SubState, type GapNotice, type ReplayFrames, type Subscription } from './delivery.js';
import { gapFrame, msgFrameText } from './frames.js';
import type { HubContext } from './hub-context.js';
import { recheckChannel, type RecheckHost } from './recheck.js';
import type { Router } from './router.js';

/** Bytes of replayed `msg` frames kept for reuse by other subscribers catching up the same messages. */
const REPLAY_CACHE_BYTES = 4 << 20;

/** Catch-ups of one hub. @internal */
export class CatchUps {
  /**
   * `msg` frames of recently replayed messages, so subscribers catching up the same channel share
   * one serialized frame per message instead of building their own (bounded by bytes).
   */
  private readonly replayCache = new LRUCache<string, Buffer>({
    maxSize: REPLAY_CACHE_BYTES,
    sizeCalculation: (b) => b.length + 64,
  });
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

  constructor(private readonly ctx: HubContext) {}

  private readonly sendGap = (s: Subscription, notice: GapNotice): void => {
    this.ctx.counters.gaps++;
    s.target.send(gapFrame(s.channel, notice, notice.reason));
  };

  /** Starts catching a subscription up from history unless it already is. */
  start(sub: Subscription): void {
    // One loop per subscription; a running loop re-reads before going live, so a second start is redundant.
    if (!sub.claimCatchUp()) return;
    this.ctx.counters.catchUps++;
    const startedAt = performance.now();
    let from = sub.lastSent;
    // A gap moves lastSent forward without sending: count from there.
    const onGap = (s: Subscription, notice: GapNotice): void => {
      from = notice.offset;
      this.sendGap(s, notice);
    };
    catchUp(sub, this.ctx.engine.storage, onGap, this.replayFrame).then(
      () => this.ctx.instruments.caughtUp(sub.channel, sub.target.id, startedAt, Math.max(0, sub.lastSent - from)),
      (err: unknown) => {
        this.ctx.log(
          'warn',
          { err, channel: sub.channel, connectionId: sub.target.id },
          'catch-up failed; closing for reconnect',
        );
        sub.target.close(CLOSE.INSUFFICIENT_STATE, 'could not read history');
      },
    );
  }

  /**
   * Messages may have been missed on the bus: every exact channel re-checks the store, once for
   * all its local subscriptions (not once per subscription).
   */
  recheckAll(router: Router<Subscription>): void {
    const host: RecheckHost = {
      storage: this.ctx.engine.storage,
      replayFrame: this.replayFrame,
      gap: this.sendGap,
      startCatchUp: (sub) => this.start(sub),
    };
    for (const channel of [...router.channels()]) {
      const subs = [...(router.exactSubscribers(channel) ?? [])];
      recheckChannel(channel, subs, host).catch((err: unknown) => {
        // The store is not back yet: each subscription retries on its own (and reconnects its client if that fails too).
        this.ctx.log('warn', { err, channel }, 're-check after bus interruption failed');
        for (const sub of subs) if (sub.active && sub.state === SubState.Live) this.start(sub);
      });
    }
  }

  /** Frees the replay cache (the hub closed). */
  clear(): void {
    this.replayCache.clear();
  }
}
