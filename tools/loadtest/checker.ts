/**
 * The correctness checker of one subscription, keyed by channel + offset. It sees every message
 * the application handler sees and every discontinuity the SDK reports, and at the end knows
 * how many messages were expected, delivered, lost silently, lost with a signal, duplicated or
 * delivered out of order.
 * @module
 */

/** A stream position (offset + epoch), as the SDK reports it. */
export interface Pos {
  offset: number;
  epoch: string;
}

/** Counts of one subscription (or a sum of many). */
export interface StreamCounts {
  /** Messages published on the channel after the subscription started. */
  expected: number;
  /** Distinct messages the handler received. */
  delivered: number;
  /** Missing without any signal: a correctness failure at every QoS. */
  lostSilent: number;
  /** Missing, but the SDK reported a discontinuity covering them (allowed at QoS 0 only). */
  lostSignalled: number;
  duplicated: number;
  outOfOrder: number;
}

export function emptyCounts(): StreamCounts {
  return { expected: 0, delivered: 0, lostSilent: 0, lostSignalled: 0, duplicated: 0, outOfOrder: 0 };
}

export function addCounts(into: StreamCounts, c: StreamCounts): StreamCounts {
  into.expected += c.expected;
  into.delivered += c.delivered;
  into.lostSilent += c.lostSilent;
  into.lostSignalled += c.lostSignalled;
  into.duplicated += c.duplicated;
  into.outOfOrder += c.outOfOrder;
  return into;
}

// Offsets remembered as missing per subscription; a larger hole is counted, not remembered.
const MAX_MISSING = 100_000;

/** Tracks one subscription's stream. */
export class StreamChecker {
  private epoch: string | undefined;
  private start = 0;
  /** Highest offset accounted for (received or signalled as lost). */
  private last = 0;
  private readonly missing = new Set<number>();
  private missingOverflow = 0;
  /** Expected messages of earlier epochs (the stream was reset meanwhile). */
  private banked = 0;
  private readonly c = emptyCounts();

  /** Whether the first subscribe result (or message) set the starting point. */
  get started(): boolean {
    return this.epoch !== undefined;
  }

  /** The stream position the subscription has accounted for up to. */
  get position(): Pos | undefined {
    return this.epoch === undefined ? undefined : { offset: this.last, epoch: this.epoch };
  }

  /** The first subscribe result: messages after `pos` are expected. Later calls are ignored. */
  begin(pos: Pos): void {
    if (this.epoch !== undefined) return;
    this.epoch = pos.epoch;
    this.start = this.last = pos.offset;
  }

  private reset(pos: Pos): void {
    // A new epoch: whatever was still missing of the old stream is lost, and the SDK said so.
    this.banked += this.last - this.start;
    this.c.lostSignalled += this.missing.size + this.missingOverflow;
    this.missing.clear();
    this.missingOverflow = 0;
    this.epoch = pos.epoch;
    this.start = this.last = pos.offset;
  }

  /** A message the handler received. */
  message(offset: number, epoch: string): void {
    if (this.epoch === undefined) this.begin({ offset: offset - 1, epoch });
    else if (epoch !== this.epoch) this.reset({ offset: offset - 1, epoch });
    if (offset === this.last + 1) {
      this.c.delivered++;
      this.last = offset;
    } else if (offset > this.last + 1) {
      for (let o = this.last + 1; o < offset; o++) {
        if (this.missing.size < MAX_MISSING) this.missing.add(o);
        else this.missingOverflow++;
      }
      this.c.delivered++;
      this.last = offset;
    } else if (this.missing.delete(offset)) {
      this.c.delivered++;
      this.c.outOfOrder++;
    } else if (offset > this.start) {
      this.c.duplicated++;
    }
    // An offset at or before the start is a replay of what preceded the subscription: not ours to judge.
  }

  /** The SDK reported a discontinuity: the subscription continues after `pos`. */
  discontinuity(pos: Pos): void {
    if (this.epoch === undefined) return this.begin(pos);
    if (pos.epoch !== this.epoch) return this.reset(pos);
    if (pos.offset > this.last) {
      this.c.lostSignalled += pos.offset - this.last;
      this.last = pos.offset;
    }
  }

  /** True once every message up to `final` is accounted for. */
  reached(final: Pos | undefined): boolean {
    if (!final || this.epoch === undefined) return true;
    return final.epoch === this.epoch && this.last >= final.offset && this.missing.size === 0;
  }

  /**
   * Counts at the end of a run. `final` is the channel's last published position; a
   * subscription that never started expects nothing (it is reported as an error instead).
   */
  finish(final: Pos | undefined): StreamCounts {
    const out = { ...this.c };
    if (this.epoch === undefined) return out;
    let tail = 0;
    let end = this.last;
    if (final && final.epoch === this.epoch && final.offset > this.last) {
      tail = final.offset - this.last;
      end = final.offset;
    }
    out.expected = this.banked + (end - this.start);
    out.lostSilent += this.missing.size + this.missingOverflow + tail;
    return out;
  }
}
