/**
 * The server's frame encoders: one per server→client op, each typed by its frame shape in
 * `protocol.ts` (the wire contract, docs/protocol.md). Nothing else in `lib/` builds a
 * server→client frame. Frames on the hot path (`msg`, `drop`, presence events, replies carrying
 * stored payloads) are spliced as text around already-serialized JSON, so an encoder adds no
 * allocation beyond the string it returns; the rest go through `JSON.stringify` of the typed
 * object. Channel names are validated ASCII without quotes or backslashes ([CH-1]), so they are
 * spliced without escaping.
 * @module
 */
import type { Position } from './engine.js';
import { payloadField } from './payload.js';
import type {
  DropFrame,
  EndFrame,
  ErrFrame,
  GapFrame,
  GapReason,
  OkFrame,
  PingFrame,
  PublishResult,
  RefreshRequestFrame,
  RefreshResult,
  SubscribeResult,
  WelcomeFrame,
} from './protocol.js';

/** `welcome`: the first frame on every connection. */
export function welcomeFrame(fields: Omit<WelcomeFrame, 'op' | 'v'>, version: number): string {
  const frame: WelcomeFrame = { op: 'welcome', v: version, ...fields };
  return JSON.stringify(frame);
}

/** `ok` with a JSON-encoded result object. */
export function okFrame(id: number, res: NonNullable<OkFrame['res']>): string {
  const frame: OkFrame = { op: 'ok', id, res };
  return JSON.stringify(frame);
}

/** `ok` with an empty result (unsubscribe, pattern subscribe). */
export function okEmptyFrame(id: number): string {
  return '{"op":"ok","id":' + id + ',"res":{}}';
}

/** `ok` of a subscribe. */
export function subscribedFrame(id: number, res: SubscribeResult): string {
  return okFrame(id, res);
}

/** `ok` of a publish. */
export function publishedFrame(id: number, res: PublishResult): string {
  return okFrame(
    id,
    res.duplicate
      ? { offset: res.offset, epoch: res.epoch, duplicate: true }
      : { offset: res.offset, epoch: res.epoch },
  );
}

/** `ok` of a refresh. */
export function refreshedFrame(id: number, res: RefreshResult): string {
  return okFrame(id, res);
}

/**
 * `ok` around a result already serialized as JSON text (a `HistoryResult` or presence list built
 * by splicing stored payloads), so stored data is never decoded and re-encoded.
 */
export function okTextFrame(id: number, resText: string): string {
  return '{"op":"ok","id":' + id + ',"res":' + resText + '}';
}

/** `err`: a reply to request `id`, or a connection-level error without it. */
export function errFrame(code: number, msg: string, id?: number): string {
  const frame: ErrFrame = id === undefined ? { op: 'err', code, msg } : { op: 'err', id, code, msg };
  return JSON.stringify(frame);
}

/** `msg` around an already-serialized payload; `pattern` names the pattern subscription it is delivered for. */
export function msgFrameText(
  channel: string,
  offset: number,
  epoch: string,
  payload: string,
  pattern?: string,
): string {
  const sub = pattern === undefined ? '' : '"sub":"' + pattern + '",';
  return (
    '{"op":"msg",' +
    sub +
    '"ch":"' +
    channel +
    '","off":' +
    offset +
    ',"ep":' +
    JSON.stringify(epoch) +
    ',' +
    payloadField(payload) +
    '}'
  );
}

/** `drop`: `n` QoS 0 messages of `channel` were dropped. */
export function dropFrame(channel: DropFrame['ch'], n: DropFrame['n']): string {
  return '{"op":"drop","ch":"' + channel + '","n":' + n + '}';
}

/** `gap`: continuity of `channel` was lost; delivery continues after `position`. */
export function gapFrame(channel: string, position: Position, reason: GapReason): string {
  const frame: GapFrame = {
    op: 'gap',
    ch: channel,
    position: { offset: position.offset, epoch: position.epoch },
    reason,
  };
  return JSON.stringify(frame);
}

/** `end`: the server ended subscription `channel`. */
export function endFrame(channel: string, code: number, msg: string): string {
  const frame: EndFrame = { op: 'end', ch: channel, code, msg };
  return JSON.stringify(frame);
}

/** `refresh`: the server asks for a fresh token; the connection closes after `exp` ms without one. */
export function refreshRequestFrame(exp: number): string {
  const frame: RefreshRequestFrame = { op: 'refresh', exp };
  return JSON.stringify(frame);
}

const PING: PingFrame = { op: 'ping' };
/** `ping`: the heartbeat, the same text for every connection. */
export const PING_FRAME = JSON.stringify(PING);

/** One presence member (`PresenceMemberWire`) around its already-serialized info; member lists splice this text too. */
export function memberText(connectionId: string, info: string | undefined): string {
  return '{"cid":' + JSON.stringify(connectionId) + (info === undefined ? '' : ',"info":' + info) + '}';
}

/** `join` (`JoinFrame`) around a member's serialized info. */
export function joinFrame(channel: string, connectionId: string, info: string | undefined): string {
  return '{"op":"join","ch":"' + channel + '","m":' + memberText(connectionId, info) + '}';
}

/** `leave` (`LeaveFrame`). */
export function leaveFrame(channel: string, connectionId: string): string {
  return '{"op":"leave","ch":"' + channel + '","m":{"cid":' + JSON.stringify(connectionId) + '}}';
}

/** `ujoin` (`UserJoinFrame`) around the user's serialized info. */
export function userJoinFrame(channel: string, user: string, info: string | undefined): string {
  return (
    '{"op":"ujoin","ch":"' +
    channel +
    '","u":{"id":' +
    JSON.stringify(user) +
    (info === undefined ? '' : ',"info":' + info) +
    '}}'
  );
}

/** `uleave` (`UserLeaveFrame`). */
export function userLeaveFrame(channel: string, user: string): string {
  return '{"op":"uleave","ch":"' + channel + '","u":{"id":' + JSON.stringify(user) + '}}';
}
