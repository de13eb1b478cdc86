/**
 * Publishing: validation of a server-side `hub.publish()`, and the store-then-broadcast step both
 * server and client publishes go through.
 * @module
 */
import { checkChannel } from './channel-name.js';
import { optionError, SwitchyardError } from './errors.js';
import { SERVER_KEY_PREFIX, type AppendOptions, type AppendResult } from './engine.js';
import type { HubContext } from './hub-context.js';
import type { PublishResult } from './protocol.js';
import { binaryOf, binaryPayload } from './payload.js';
import { textLargerThan } from './validate.js';

/**
 * Validates a server publish; returns the serialized payload and the namespaced idempotency key.
 * Throws 103 for a bad channel, 104 for data over `limits.maxMessageBytes`, 150 for bad options.
 * @internal
 */
export function checkPublish(
  ctx: HubContext,
  channel: string,
  data: unknown,
  options: { idempotencyKey?: string },
): { payload: string; key: string | undefined } {
  const err = checkChannel(channel, false, ctx.options.limits.maxChannelBytes);
  if (err) throw new SwitchyardError('BAD_CHANNEL', err);
  if (typeof options !== 'object' || options === null)
    throw optionError('publish options', 'an object {idempotencyKey?}', options);
  const key = options.idempotencyKey;
  if (key !== undefined && (typeof key !== 'string' || key.length === 0 || key.length > 64)) {
    throw optionError('idempotencyKey', 'a string of 1-64 characters', key);
  }
  if (data === undefined || typeof data === 'function' || typeof data === 'symbol') {
    throw optionError('data', 'a JSON value (object, array, string, number, boolean or null)', data);
  }
  let payload: string;
  const bytes = binaryOf(data);
  try {
    payload = bytes ? binaryPayload(bytes) : JSON.stringify(data);
  } catch (e) {
    throw optionError('data', `JSON-serializable (${(e as Error).message})`, typeof data);
  }
  // The same limit as a client publish ([PUB-5]): every subscriber's SDK and queue is sized for it.
  // [BIN-3] bytes count as themselves, not as their base64.
  const max = ctx.options.limits.maxMessageBytes;
  if (bytes ? bytes.byteLength > max : textLargerThan(payload, max))
    throw new SwitchyardError('MESSAGE_TOO_LARGE', `data is larger than limits.maxMessageBytes (${max} bytes)`);
  // Server keys and client message ids live in separate namespaces ("s:" / "c:"), so a client
  // cannot pre-claim a key the backend will use and make its publish a silent duplicate.
  return { payload, key: key === undefined ? undefined : SERVER_KEY_PREFIX + key };
}

/**
 * Stores and broadcasts one serialized payload. Rejects with 201 when nothing was stored. With
 * the in-memory engine ({@link HubContext.appendNow}) both happen before this returns: a turn
 * that publishes many messages fans each out as it is published, as a raw send loop would,
 * rather than all of them after the last one (which made every message of a 100-message turn
 * wait for the turn's other fan-outs). Stored before sent either way. @internal
 */
export function publishPayload(
  ctx: HubContext,
  channel: string,
  payload: string,
  idempotencyKey?: string,
): Promise<PublishResult> {
  const appendNow = ctx.appendNow;
  if (appendNow === undefined) return publishStored(ctx, channel, payload, idempotencyKey);
  const rule = ctx.rules.for(channel);
  const startedAt = performance.now();
  let res: AppendResult | undefined;
  try {
    res = appendNow(channel, payload, retention(rule, idempotencyKey));
  } catch (err) {
    return Promise.reject(appendFailed(ctx, channel, err));
  }
  if (res === undefined) return publishStored(ctx, channel, payload, idempotencyKey);
  if (ctx.instruments.enabled) ctx.instruments.engine.append.observe((performance.now() - startedAt) / 1000);
  if (res.duplicate) return Promise.resolve({ offset: res.offset, epoch: res.epoch, duplicate: true });
  stored(ctx, channel, payload, res, rule.family, startedAt);
  // The in-process broker hands the message to the fan-out synchronously, inside this call.
  ctx.engine.broker
    .publish({ channel, offset: res.offset, epoch: res.epoch, payload })
    .catch((err: unknown) => broadcastFailed(ctx, channel, err));
  return Promise.resolve({ offset: res.offset, epoch: res.epoch });
}

type Rule = ReturnType<HubContext['rules']['for']>;

function retention(rule: Rule, idempotencyKey: string | undefined): AppendOptions {
  const r = rule.history === false ? { size: 0, ttl: 1 } : { size: rule.history.size, ttl: rule.history.ttl };
  return idempotencyKey === undefined ? r : { ...r, idempotencyKey };
}

function appendFailed(ctx: HubContext, channel: string, err: unknown): SwitchyardError {
  ctx.counters.publishFailures++;
  ctx.log('error', { err, channel }, 'storage append failed');
  return new SwitchyardError('ENGINE_UNAVAILABLE', 'publish not acknowledged');
}

function stored(
  ctx: HubContext,
  channel: string,
  payload: string,
  res: AppendResult,
  family: string,
  startedAt: number,
): void {
  ctx.counters.published++;
  ctx.instruments.published(channel, res.offset, res.epoch, payload.length, family, startedAt);
}

// Stored but not broadcast: subscribers on other nodes detect the gap on the next message.
function broadcastFailed(ctx: HubContext, channel: string, err: unknown): void {
  ctx.log('warn', { err, channel }, 'broker publish failed');
}

/** {@link publishPayload} for engines that answer asynchronously. */
async function publishStored(
  ctx: HubContext,
  channel: string,
  payload: string,
  idempotencyKey?: string,
): Promise<PublishResult> {
  const rule = ctx.rules.for(channel);
  let res;
  const startedAt = performance.now();
  try {
    // A broker that failed to start makes every publish fail as "engine unavailable" (201).
    await ctx.ready;
    res = await ctx.engine.storage.append(channel, payload, retention(rule, idempotencyKey));
  } catch (err) {
    throw appendFailed(ctx, channel, err);
  }
  if (res.duplicate) return { offset: res.offset, epoch: res.epoch, duplicate: true };
  stored(ctx, channel, payload, res, rule.family, startedAt);
  if (!ctx.engine.appendPublishes) {
    await ctx.engine.broker
      .publish({ channel, offset: res.offset, epoch: res.epoch, payload })
      .catch((err: unknown) => broadcastFailed(ctx, channel, err));
  }
  return { offset: res.offset, epoch: res.epoch };
}
