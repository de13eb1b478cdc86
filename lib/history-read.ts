/**
 * Reading a channel's history for `hub.history()` and the `hist` request: the limit check, where
 * the page starts (`recovery.ts` decides whether `since` is still covered), and the JSON text of a
 * `HistoryResult` with stored payloads spliced in rather than re-encoded.
 * @module
 */
import { optionError, SwitchyardError } from './errors.js';
import type { Position, StoredMessage } from './engine.js';
import type { HubContext } from './hub-context.js';
import { isIntIn } from './integers.js';
import { payloadField } from './payload.js';
import { historyStart } from './recovery.js';

/** One page of history, payloads as stored. @internal */
export interface StoredPage {
  messages: StoredMessage[];
  position: Position;
  complete: boolean;
}

/** Reads one page of history. Rejects with 112 when the channel keeps none, 150 for a bad limit. @internal */
export async function readHistory(
  ctx: HubContext,
  channel: string,
  since: Position | undefined,
  limit: number | undefined,
): Promise<StoredPage> {
  if (ctx.rules.for(channel).history === false)
    throw new SwitchyardError('HISTORY_DISABLED', `${channel} keeps no history`);
  const max = ctx.options.limits.maxHistoryLimit;
  if (limit !== undefined && !isIntIn(limit, 1, max)) throw optionError('limit', `an integer from 1 to ${max}`, limit);
  const n = limit ?? Math.min(100, max);
  const state = await ctx.engine.storage.state(channel, since);
  const { after, complete } = historyStart(since, state, n);
  const { messages, state: s2 } = await ctx.engine.storage.read(channel, after, n);
  return { messages, position: { offset: s2.offset, epoch: s2.epoch }, complete };
}

/** History as the JSON text of a `HistoryResult`. @internal */
export async function historyText(
  ctx: HubContext,
  channel: string,
  since: Position | undefined,
  limit: number | undefined,
): Promise<string> {
  const { messages, position, complete } = await readHistory(ctx, channel, since, limit);
  let text = '{"messages":[';
  for (let i = 0; i < messages.length; i++) {
    const m = messages[i]!;
    text += (i ? ',' : '') + '{"off":' + m.offset + ',' + payloadField(m.payload) + '}';
  }
  return text + '],"position":' + JSON.stringify(position) + ',"complete":' + complete + '}';
}
