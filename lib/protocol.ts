/**
 * Protocol v1 frame shapes, shared by server and client. The normative text with rule IDs is
 * `docs/protocol.md`; `validate.ts` enforces the client→server half of it and `frames.ts` encodes
 * the server→client half from these types.
 * @module
 */
import type { Position } from './engine.js';

/** The WebSocket subprotocol of protocol v1. */
export const SUBPROTOCOL = 'switchyard.v1';
/** Prefix of the subprotocol entry that carries the client's token (base64url). */
export const TOKEN_PROTOCOL_PREFIX = 'switchyard.token.';
/**
 * [TR-5] Subprotocol a browser client offers to learn why `authenticate` refused it: the server
 * then completes the handshake only to close at once with 3520 AUTH_REFUSED (browsers cannot
 * read the HTTP status of a refused upgrade). Clients that can read it (Node) do not offer it,
 * so they are refused before the handshake.
 */
export const REFUSAL_CLOSE_PROTOCOL = 'switchyard.refusal-close';
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
  /** [PRES-2] Also receive `join`/`leave` events of the channel's presence (default false). */
  presence?: boolean;
  /** [PRES-8] Also receive user-level `ujoin`/`uleave` events (default false). */
  users?: boolean;
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
  /** [BIN-2] Bytes as base64, instead of `data`. */
  bin?: string;
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
/** [PRES] Who is subscribed to a presence channel right now. */
export interface PresenceFrame {
  op: 'presence';
  id: number;
  ch: string;
  /** [PRES-9] List users (one per user, with a connection count) instead of connections. */
  users?: boolean;
}
/** [REF] A fresh token for the open connection, sent when the server asked with a `refresh` frame (or at any time). */
export interface RefreshFrame {
  op: 'refresh';
  id: number;
  /** The new token, as the server's `refresh` (or `authenticate`) hook expects it. Never logged. */
  token: string;
}
/** [PONG] Answer to a server `ping`. */
export interface PongFrame {
  op: 'pong';
}
/** [UP-3] A client's liveness probe; the server answers `ok` with an empty result at once. */
export interface ProbeFrame {
  op: 'ping';
  id: number;
}

/** Any valid client→server frame. */
export type ClientFrame =
  | SubFrame
  | UnsubFrame
  | PubFrame
  | AckFrame
  | HistFrame
  | PresenceFrame
  | RefreshFrame
  | PongFrame
  | ProbeFrame;

// ---- server → client ----

/** First frame on every connection. */
export interface WelcomeFrame {
  op: 'welcome';
  v: number;
  /** Connection id, for support and logs. */
  cid: string;
  /** Heartbeat interval in ms: the client treats the server as dead after about twice this. */
  hb: number;
  /** The server's QoS 1 in-flight window per subscription (`limits.inflightWindow`): ack before it fills. */
  win?: number;
  /** [PUB-6] The server's publish rate per connection (`limits.publishesPerSecond`): the SDK paces its sends and retries under it. */
  pr?: number;
  /** [REF-1] Milliseconds until the connection's credentials expire; absent when they do not. */
  exp?: number;
  /** [SSUB-1] Channels the server subscribed this connection to; the client subscribes them (with `since` after a reconnect). */
  subs?: ServerSubscriptionWire[];
}
/** [SSUB-1] One server-side channel on the wire. */
export interface ServerSubscriptionWire {
  ch: string;
  qos: QoS;
}
/** [REF-4] Result of a refresh: the new expiry and the complete list of server-side channels. */
export interface RefreshResult {
  /** Milliseconds until the new credentials expire; absent when they do not. */
  exp?: number;
  subs: ServerSubscriptionWire[];
}
/**
 * [SUB-9] Why a resume from `since` could not recover (sent as `reason` with `recovered: false`):
 * `reset` — the position belongs to another epoch or lies beyond the stream's end (the store lost
 * the stream); `trimmed` — it is older than the oldest retained message (size or age); `cap` —
 * still retained, but more than the channel's `recoveryCap` messages behind.
 */
export type UnrecoverableReason = 'reset' | 'trimmed' | 'cap';

/** [SRV-4] Why a subscription lost continuity while subscribed (sent as `reason` in `gap`). */
export type GapReason = 'reset' | 'trimmed';

/** Result of a subscribe. */
export interface SubscribeResult {
  /** True when `since` was given and every message after it will be replayed before live ones. */
  recovered: boolean;
  /** With `since` and `recovered: false`: why the position could not be recovered. */
  reason?: UnrecoverableReason;
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
/** One member of a presence channel, as `hub.presence()` and the client SDK return it. */
export interface PresenceMember {
  /** The member's connection id (the `cid` of its `welcome`). */
  connectionId: string;
  /** What the server's `presenceInfo` hook returned for the member; absent without the hook. */
  info?: unknown;
}
/** Members of a presence channel, as `hub.presence()` and the client SDK return them. */
export interface PresenceResult {
  /** At most `limits.maxPresenceMembers` members, in no particular order. */
  members: PresenceMember[];
  /** True when the channel has more members than listed. */
  truncated: boolean;
}
/** One member of a presence channel on the wire. */
export interface PresenceMemberWire {
  /** The member's connection id. */
  cid: string;
  /** What the server's `presenceInfo` hook returned for the member; absent without the hook. */
  info?: unknown;
}
/** Result of a presence request. */
export interface PresenceResultWire {
  /** At most `limits.maxPresenceMembers` members, in no particular order. */
  members: PresenceMemberWire[];
  /** True when the channel has more members than listed. */
  truncated: boolean;
}
/** Successful reply to a request. */
export interface OkFrame {
  op: 'ok';
  id: number;
  res?:
    | SubscribeResult
    | PublishResult
    | HistoryResult
    | PresenceResultWire
    | PresenceUsersResultWire
    | RefreshResult
    | Record<string, never>;
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
  /** [BIN-2] The bytes of a binary message, base64, instead of `data`. */
  bin?: string;
}
/** QoS 0 messages of subscription `ch` were dropped because the connection could not keep up. */
export interface DropFrame {
  op: 'drop';
  ch: string;
  n: number;
}
/** Continuity of subscription `ch` was lost; delivery continues after `position`. */
export interface GapFrame {
  op: 'gap';
  ch: string;
  position: Position;
  /** `reset`: the store lost the stream (new epoch, replayed from its start); `trimmed`: history no longer covers what the subscription missed. */
  reason: GapReason;
}
/** [PRES-7] A connection joined presence channel `ch`. */
export interface JoinFrame {
  op: 'join';
  ch: string;
  m: PresenceMemberWire;
}
/** [PRES-7] A connection left presence channel `ch`. */
export interface LeaveFrame {
  op: 'leave';
  ch: string;
  m: { cid: string };
}
/** [REF-1] The server asks for a fresh token; the connection is closed with 3010 after `exp` ms without one. */
export interface RefreshRequestFrame {
  op: 'refresh';
  exp: number;
}
/** [END-1] The server ended subscription `ch` (121 no longer authorized, 122 `hub.unsubscribe`). */
export interface EndFrame {
  op: 'end';
  ch: string;
  code: number;
  msg: string;
}
/** [PRES-8] A user's first connection joined presence channel `ch`. */
export interface UserJoinFrame {
  op: 'ujoin';
  ch: string;
  u: { id: string; info?: unknown };
}
/** [PRES-8] A user's last connection left presence channel `ch`. */
export interface UserLeaveFrame {
  op: 'uleave';
  ch: string;
  u: { id: string };
}
/** [PRES-9] Result of a presence request with `users: true`. */
export interface PresenceUsersResultWire {
  users: Array<{ id: string; n: number; info?: unknown }>;
  truncated: boolean;
}
/** Heartbeat; the client answers `pong`. */
export interface PingFrame {
  op: 'ping';
}

/** Any server→client frame. */
export type ServerFrame =
  | WelcomeFrame
  | OkFrame
  | ErrFrame
  | MsgFrame
  | DropFrame
  | GapFrame
  | JoinFrame
  | LeaveFrame
  | RefreshRequestFrame
  | EndFrame
  | UserJoinFrame
  | UserLeaveFrame
  | PingFrame;
