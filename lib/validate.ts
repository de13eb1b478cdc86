/**
 * The one validator every inbound frame goes through. Each failure names the rule ID of
 * `docs/protocol.md` it enforces. It reads only own properties of the parsed frame, so keys such
 * as `__proto__` or `constructor` are data, never behaviour.
 * @module
 */
import { checkChannel, isPattern } from './channel-name.js';
import { isIntIn } from './integers.js';
import type { ErrorName } from './errors.js';
import type { ClientFrame } from './protocol.js';

/** Limits the validator needs. */
export interface FrameLimits {
  maxMessageBytes: number;
  maxChannelBytes: number;
  maxDepth: number;
  maxHistoryLimit: number;
}

/** A rejected frame: the error to send and, when the frame had a usable `id`, that id. */
export interface FrameRejection {
  error: ErrorName;
  detail: string;
  id?: number;
}

/** Result of {@link validateFrame}. */
export type FrameCheck = { frame: ClientFrame } | FrameRejection;

/** Largest request id accepted ([FR-5]). */
export const MAX_REQUEST_ID = 2 ** 31 - 1;
/** Longest client message id or epoch accepted ([PUB-3], [SUB-3]). */
export const MAX_ID_LENGTH = 64;
/** Longest token a `refresh` frame may carry, in characters ([REF-2]). */
export const MAX_TOKEN_LENGTH = 8_192;

/** Whether `text` is more than `max` UTF-8 bytes (counting bytes only when the length alone cannot tell). */
export function textLargerThan(text: string, max: number): boolean {
  return text.length > max || (text.length * 3 > max && Buffer.byteLength(text) > max);
}

/** Bytes a frame may carry beyond `maxMessageBytes` for its envelope (op, ch, ids). */
export const ENVELOPE_BYTES = 1024;

const has = (o: object, k: string): boolean => Object.hasOwn(o, k);
const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isId = (v: unknown): v is number => isIntIn(v, 0, MAX_REQUEST_ID);
const isOffset = (v: unknown): v is number => isIntIn(v, 0);

/** Depth of nested arrays/objects in `v`, stopping as soon as `max` is exceeded. */
export function exceedsDepth(v: unknown, max: number): boolean {
  // Iterative so a hostile frame cannot overflow the stack.
  const stack: Array<[unknown, number]> = [[v, 0]];
  while (stack.length) {
    const [x, d] = stack.pop()!;
    if (typeof x !== 'object' || x === null) continue;
    if (d + 1 > max) return true;
    const values = Array.isArray(x) ? x : Object.values(x);
    for (const y of values) if (typeof y === 'object' && y !== null) stack.push([y, d + 1]);
  }
  return false;
}

function checkSince(f: Record<string, unknown>, rule: string): string | undefined {
  if (!has(f, 'since')) return undefined;
  const s = f.since;
  if (
    !isObject(s) ||
    !isOffset(s.offset) ||
    typeof s.epoch !== 'string' ||
    s.epoch.length === 0 ||
    s.epoch.length > MAX_ID_LENGTH
  ) {
    return `[${rule}] since must be {offset: non-negative integer, epoch: string of 1-${MAX_ID_LENGTH} chars}`;
  }
  return undefined;
}

/** The start of an ack frame as the SDK writes it (`JSON.stringify({op, ch, off})`); the channel follows. */
export const ACK_HEAD = '{"op":"ack","ch":"';

/**
 * The offset of an ack frame in exactly the SDK's shape, `{"op":"ack","ch":"<channel>","off":<n>}`
 * with no escape in the channel, read without `JSON.parse` (QoS 1 subscribers send one per batch
 * of deliveries, the only frame a busy connection sends steadily). -1 for anything else, which
 * then goes through {@link validateFrame}: the fast path accepts a subset of what it accepts.
 * The channel is `data.slice(ACK_HEAD.length, data.indexOf('"', ACK_HEAD.length))`.
 */
export function sdkAckOffset(data: string): number {
  if (!data.startsWith(ACK_HEAD)) return -1;
  const q = data.indexOf('"', ACK_HEAD.length);
  if (q <= ACK_HEAD.length || data.lastIndexOf('\\', q) >= ACK_HEAD.length || !data.startsWith('","off":', q))
    return -1;
  const first = q + 8;
  const end = data.length - 1;
  // 1 to 16 digits, no leading zero (JSON has none), then the closing brace; a safe integer.
  if (
    data.charCodeAt(end) !== 125 ||
    end === first ||
    end - first > 16 ||
    (data.charCodeAt(first) === 48 && end - first > 1)
  )
    return -1;
  let off = 0;
  for (let i = first; i < end; i++) {
    const d = data.charCodeAt(i) - 48;
    if (d < 0 || d > 9) return -1;
    off = off * 10 + d;
  }
  return off <= Number.MAX_SAFE_INTEGER ? off : -1;
}

/**
 * Parses and validates one inbound frame.
 * @param data the frame text (already decoded as UTF-8)
 * @param binary whether it arrived as a binary WebSocket message
 */
export function validateFrame(data: string, binary: boolean, limits: FrameLimits): FrameCheck {
  if (binary) return { error: 'BINARY_NOT_SUPPORTED', detail: '[FR-1] frames are JSON text' };
  // Characters are at most 3 UTF-8 bytes each, so the cheap length check only defers to the exact count near the limit.
  let maxFrame = limits.maxMessageBytes + ENVELOPE_BYTES;
  // [BIN-3] bytes are limited as bytes: their base64 in `bin` may be a third longer.
  if (data.length > maxFrame && data.includes('"bin":"'))
    maxFrame = Math.ceil(limits.maxMessageBytes / 3) * 4 + ENVELOPE_BYTES;
  if (data.length > maxFrame || (data.length * 3 > maxFrame && Buffer.byteLength(data) > maxFrame)) {
    return { error: 'MESSAGE_TOO_LARGE', detail: `[FR-2] frame is larger than ${maxFrame} bytes` };
  }
  let f: unknown;
  try {
    f = JSON.parse(data);
  } catch {
    return { error: 'BAD_JSON', detail: '[FR-3] frame is not valid JSON' };
  }
  if (!isObject(f)) return { error: 'BAD_FRAME', detail: '[FR-3] frame must be a JSON object' };
  if (!has(f, 'op') || typeof f.op !== 'string') return { error: 'BAD_FRAME', detail: '[FR-4] op must be a string' };

  const rawId = has(f, 'id') ? f.id : undefined;
  const id = isId(rawId) ? rawId : undefined;
  const reject = (error: ErrorName, detail: string): FrameRejection =>
    id === undefined ? { error, detail } : { error, detail, id };
  // Every op names its own rule in front of the channel rule that failed, e.g. "[PUB-1] [CH-4] ...".
  const badChannel = (allowPattern: boolean, rule: string): FrameRejection | undefined => {
    const e = checkChannel(f.ch, allowPattern, limits.maxChannelBytes);
    return e === undefined ? undefined : reject('BAD_CHANNEL', `[${rule}] ${e}`);
  };
  const needsId = (): FrameRejection | undefined =>
    id === undefined
      ? { error: 'BAD_FRAME', detail: `[FR-5] id must be an integer from 0 to ${MAX_REQUEST_ID}` }
      : undefined;

  switch (f.op) {
    case 'sub': {
      const bad = needsId();
      if (bad) return bad;
      const badCh = badChannel(true, 'SUB-1');
      if (badCh) return badCh;
      if (has(f, 'qos') && f.qos !== 0 && f.qos !== 1) return reject('BAD_FRAME', '[SUB-2] qos must be 0 or 1');
      const sErr = checkSince(f, 'SUB-3');
      if (sErr) return reject('BAD_FRAME', sErr);
      if (isPattern(f.ch as string) && (f.qos === 1 || has(f, 'since'))) {
        return reject('QOS_UNSUPPORTED', '[SUB-4] QoS 1 and recovery need an exact channel');
      }
      if (has(f, 'presence') && typeof f.presence !== 'boolean')
        return reject('BAD_FRAME', '[PRES-2] presence must be a boolean');
      if (f.presence === true && isPattern(f.ch as string))
        return reject('PRESENCE_DISABLED', '[PRES-2] presence events need an exact channel');
      if (has(f, 'users') && typeof f.users !== 'boolean')
        return reject('BAD_FRAME', '[PRES-8] users must be a boolean');
      if (f.users === true && isPattern(f.ch as string))
        return reject('PRESENCE_DISABLED', '[PRES-8] user presence events need an exact channel');
      const frame: ClientFrame = { op: 'sub', id: id!, ch: f.ch as string, qos: f.qos === 1 ? 1 : 0 };
      if (f.presence === true) frame.presence = true;
      if (f.users === true) frame.users = true;
      if (has(f, 'since'))
        frame.since = { offset: (f.since as { offset: number }).offset, epoch: (f.since as { epoch: string }).epoch };
      return { frame };
    }
    case 'unsub': {
      const bad = needsId();
      if (bad) return bad;
      const badCh = badChannel(true, 'UNSUB-1');
      if (badCh) return badCh;
      return { frame: { op: 'unsub', id: id!, ch: f.ch as string } };
    }
    case 'pub': {
      if (has(f, 'id') && id === undefined) return needsId()!;
      const badCh = badChannel(false, 'PUB-1');
      if (badCh) return badCh;
      // [BIN-2] bytes travel as `bin` (base64) instead of `data`.
      const bin = has(f, 'bin') ? f.bin : undefined;
      if (bin !== undefined && (typeof bin !== 'string' || has(f, 'data')))
        return reject('BAD_FRAME', '[BIN-2] bin must be a base64 string, and a frame has data or bin, not both');
      if (bin === undefined && !has(f, 'data')) return reject('BAD_FRAME', '[PUB-2] data (or bin) is required');
      if (has(f, 'mid') && (typeof f.mid !== 'string' || f.mid.length === 0 || f.mid.length > MAX_ID_LENGTH)) {
        return reject('BAD_FRAME', `[PUB-3] mid must be a string of 1-${MAX_ID_LENGTH} chars`);
      }
      if (exceedsDepth(f.data, limits.maxDepth))
        return reject('BAD_FRAME', `[PUB-4] data is nested deeper than ${limits.maxDepth} levels`);
      const frame: ClientFrame =
        bin === undefined
          ? { op: 'pub', ch: f.ch as string, data: f.data }
          : { op: 'pub', ch: f.ch as string, data: undefined, bin };
      if (id !== undefined) frame.id = id;
      if (has(f, 'mid')) frame.mid = f.mid as string;
      return { frame };
    }
    case 'ack': {
      const badCh = badChannel(false, 'ACK-1');
      if (badCh) return badCh;
      if (!isOffset(f.off)) return reject('BAD_FRAME', '[ACK-2] off must be a non-negative integer');
      return { frame: { op: 'ack', ch: f.ch as string, off: f.off } };
    }
    case 'hist': {
      const bad = needsId();
      if (bad) return bad;
      const badCh = badChannel(false, 'HIST-1');
      if (badCh) return badCh;
      if (has(f, 'limit') && !(isOffset(f.limit) && f.limit >= 1 && f.limit <= limits.maxHistoryLimit)) {
        return reject('BAD_FRAME', `[HIST-2] limit must be an integer from 1 to ${limits.maxHistoryLimit}`);
      }
      const sErr = checkSince(f, 'HIST-3');
      if (sErr) return reject('BAD_FRAME', sErr);
      const frame: ClientFrame = { op: 'hist', id: id!, ch: f.ch as string };
      if (has(f, 'limit')) frame.limit = f.limit as number;
      if (has(f, 'since'))
        frame.since = { offset: (f.since as { offset: number }).offset, epoch: (f.since as { epoch: string }).epoch };
      return { frame };
    }
    case 'presence': {
      const bad = needsId();
      if (bad) return bad;
      const badCh = badChannel(false, 'PRES-3');
      if (badCh) return badCh;
      if (has(f, 'users') && typeof f.users !== 'boolean')
        return reject('BAD_FRAME', '[PRES-9] users must be a boolean');
      return {
        frame:
          f.users === true
            ? { op: 'presence', id: id!, ch: f.ch as string, users: true }
            : { op: 'presence', id: id!, ch: f.ch as string },
      };
    }
    case 'refresh': {
      const bad = needsId();
      if (bad) return bad;
      if (typeof f.token !== 'string' || f.token.length === 0 || f.token.length > MAX_TOKEN_LENGTH) {
        return reject('BAD_FRAME', `[REF-2] token must be a string of 1-${MAX_TOKEN_LENGTH} chars`);
      }
      return { frame: { op: 'refresh', id: id!, token: f.token } };
    }
    case 'pong':
      return { frame: { op: 'pong' } };
    case 'ping': {
      // [UP-3] a client's liveness probe: answered at once with an empty ok.
      const bad = needsId();
      if (bad) return bad;
      return { frame: { op: 'ping', id: id! } };
    }
    default:
      return reject('UNKNOWN_OP', `[FR-4] unknown op ${JSON.stringify(f.op.slice(0, 20))}`);
  }
}
