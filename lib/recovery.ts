/**
 * The one rule for "does history still cover this position?" ([SUB-9], [HIST-3], [SRV-4]).
 * Subscribe with `since`, a history read with `since`, a catch-up and the re-check after a bus
 * interruption all ask {@link discontinuity}; each only maps its answer to what it does next.
 * Pure functions of a position and a stream's state: test/recovery.test.ts is its decision table.
 * @module
 */
import type { Position, StreamState } from './engine.js';
import type { GapReason, UnrecoverableReason } from './protocol.js';

/**
 * Why resuming after `since` would not continue the stream without a gap:
 * `reset` — another epoch (the store lost the stream);
 * `ahead` — the same epoch but past the stream's head (a store that lost data, or a read that
 *   does not show a message the bus already delivered yet);
 * `trimmed` — older than the oldest retained message;
 * `cap` — retained, but more than `cap` messages behind the head.
 */
export type Discontinuity = 'reset' | 'ahead' | 'trimmed' | 'cap';

/** Why continuing after `since` in a stream in `state` is not gap-free, or undefined when it is. */
export function discontinuity(since: Position, state: StreamState, cap = Infinity): Discontinuity | undefined {
  if (since.epoch !== state.epoch) return 'reset';
  if (since.offset > state.offset) return 'ahead';
  if (since.offset < state.earliest - 1) return 'trimmed';
  if (state.offset - since.offset > cap) return 'cap';
  return undefined;
}

/** Where a new subscription starts and what its reply says ([SUB-9]). */
export interface SubscribeStart {
  /** True when `since` was given and every message after it will be replayed. */
  recovered: boolean;
  /** With `since` and not recovered: why (a position past the head is reported as `reset`). */
  reason?: UnrecoverableReason;
  /** The offset delivery continues after. */
  start: number;
  /** The position the reply reports. */
  position: Position;
}

/**
 * Where a subscription starts: after `since` when it can be recovered within `cap` messages; for
 * a resume from another epoch, at the new epoch's oldest retained message (at most `cap` of them,
 * as a live subscriber is replayed after a reset, [SRV-4]); otherwise at the head.
 */
export function subscribeStart(since: Position | undefined, state: StreamState, cap: number): SubscribeStart {
  const position = { offset: state.offset, epoch: state.epoch };
  if (since === undefined) return { recovered: false, start: state.offset, position };
  const d = discontinuity(since, state, cap);
  if (d === undefined) return { recovered: true, start: since.offset, position };
  const reason: UnrecoverableReason = d === 'ahead' ? 'reset' : d;
  if (d !== 'reset') return { recovered: false, reason, start: state.offset, position };
  const start = Math.max(state.earliest - 1, state.offset - cap);
  return { recovered: false, reason, start, position: { offset: start, epoch: state.epoch } };
}

/**
 * Where a history read of at most `limit` messages starts ([HIST-3]): after `since` when history
 * covers it (`complete`), else at the oldest retained message; without `since`, the latest `limit`.
 */
export function historyStart(
  since: Position | undefined,
  state: StreamState,
  limit: number,
): { after: number; complete: boolean } {
  if (since === undefined) return { after: Math.max(state.earliest - 1, state.offset - limit), complete: true };
  const complete = discontinuity(since, state) === undefined;
  return { after: complete ? since.offset : state.earliest - 1, complete };
}

/**
 * Whether a subscription that has sent up to `lastSent` of `epoch` lost continuity ([SRV-4]),
 * and why. Past the head is not a gap here: the store may not show yet what the bus delivered,
 * and the next read or live message settles it.
 */
export function catchUpGap(lastSent: number, epoch: string, state: StreamState): GapReason | undefined {
  const d = discontinuity({ offset: lastSent, epoch }, state);
  return d === 'reset' || d === 'trimmed' ? d : undefined;
}
