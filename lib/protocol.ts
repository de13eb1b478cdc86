/**
 * Protocol v1 frame shapes, shared by server and client. The normative text with rule IDs is
 * `docs/protocol.md`; `validate.ts` enforces the client→server half of it.
 * @module
 */
import type { Position } from './engine.js';

/** The WebSocket subprotocol of protocol v1. */
export const SUBPROTOCOL = 'switchyard.v1';
/** Prefix of the subprotocol entry that carries the client's token (base64url). */
export const TOKEN_PROTOCOL_PREFIX = 'switchyard.token.';
/** Protocol version number sent in `welcome`. */
export const PROTOCOL_VERSION = 1;

/** QoS level: 0 at-most-once, 1 at-least-once with acknowledgements. */
export type QoS = 0 | 1;

// ---- client → server ----

/** [SUB] Subscribe to a channel or pattern, optionally resuming from a position. */
export interface SubFrame {
  op: 'sub';
  id: number;
  ch: string;
  qos?: QoS;
  since?: Position;
}
/** [UNSUB] Stop a subscription. */
export interface UnsubFrame {
  op: 'unsub';
  id: number;
  ch: string;
}
/** [PUB] Publish to a channel. `id` asks for an acknowledgement; `mid` makes a retry idempotent. */
export interface PubFrame {
  op: 'pub';
  id?: number;
  ch: string;
  data: unknown;
  mid?: string;
}
/** [ACK] Cumulative acknowledgement of QoS 1 deliveries up to and including `off`. */
export interface AckFrame {
  op: 'ack';
  ch: string;
  off: number;
}
/** [HIST] Read a channel's history. */
export interface HistFrame {
  op: 'hist';
  id: number;
  ch: string;
  since?: Position;
  limit?: number;
}
/** [PONG] Answer to a server `ping`. */
export interface PongFrame {
  op: 'pong';
}

/** Any valid client→server frame. */
export type ClientFrame = SubFrame | UnsubFrame | PubFrame | AckFrame | HistFrame | PongFrame;

// ---- server → client ----

/** First frame on every connection. */
export interface WelcomeFrame {
  op: 'welcome';
  v: number;
  /** Connection id, for support and logs. */
  cid: string;
  /** Heartbeat interval in ms: the client treats the server as dead after about twice this. */
  hb: number;
}
/** Result of a subscribe. */
export interface SubscribeResult {
  /** True when `since` was given and every message after it will be replayed before live ones. */
  recovered: boolean;
  /** The stream's position when the subscription started; resume from here if not recovered. */
  position: Position;
}
/** Result of a publish. */
export interface PublishResult extends Position {
  /** True when this was a retry of an already stored message (nothing stored twice). */
  duplicate?: boolean;
}
/** One message in a history result. */
export interface HistoryMessage {
  off: number;
  data: unknown;
}
/** Result of a history read. */
export interface HistoryResult {
  messages: HistoryMessage[];
  position: Position;
  /** False when `since` was given but history no longer covers it (messages are then from the earliest kept). */
  complete: boolean;
}
/** Successful reply to a request. */
export interface OkFrame {
  op: 'ok';
  id: number;
  res?: SubscribeResult | PublishResult | HistoryResult | Record<string, never>;
}
/** Error reply (with `id`) or connection-level error (without). */
export interface ErrFrame {
  op: 'err';
  id?: number;
  code: number;
  msg: string;
}
/** A delivered message. */
export interface MsgFrame {
  op: 'msg';
  /** Present when delivered for a pattern subscription: the pattern, as subscribed. */
  sub?: string;
  ch: string;
  off: number;
  ep: string;
  data: unknown;
}
/** QoS 0 messages of subscription `ch` were dropped because the connection could not keep up. */
export interface DropFrame {
  op: 'drop';
  ch: string;
  n: number;
}
/** Continuity of subscription `ch` was lost (history no longer covers what it missed). */
export interface GapFrame {
  op: 'gap';
  ch: string;
  position: Position;
}
/** Heartbeat; the client answers `pong`. */
export interface PingFrame {
  op: 'ping';
}

/** Any server→client frame. */
export type ServerFrame = WelcomeFrame | OkFrame | ErrFrame | MsgFrame | DropFrame | GapFrame | PingFrame;

/** Builds the JSON text of a `msg` frame around an already-serialized payload (no re-encoding). */
export function msgFrameText(channel: string, offset: number, epoch: string, payload: string, pattern?: string): string {
  // Channel names are validated ASCII without quotes or backslashes ([CH-1]), so they need no escaping.
  const sub = pattern === undefined ? '' : '"sub":"' + pattern + '",';
  return '{"op":"msg",' + sub + '"ch":"' + channel + '","off":' + offset + ',"ep":' + JSON.stringify(epoch) + ',"data":' + payload + '}';
}
