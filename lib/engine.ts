/**
 * The storage and broker contracts. The hub talks only to these; the in-memory engine
 * (`history-memory.ts`, `broker-local.ts`) is the default, the Redis engine lives in
 * `adapters/redis`. `docs/storage-adapters.md` explains how to implement them and
 * `switchyardjs/testing` holds the conformance suite.
 * @module
 */

/** A place in a channel's stream. Offsets start at 1; offset 0 means "before the first message". */
export interface Position {
  /** Offset of the last message in the stream (0 when none was ever published). */
  offset: number;
  /** Identifies this incarnation of the stream; changes when stored history may have been lost. */
  epoch: string;
}

/** A position together with the oldest offset still retained. */
export interface StreamState extends Position {
  /** Offset of the oldest retained message; `offset + 1` when the stream retains nothing. */
  earliest: number;
}

/** One stored message. `payload` is the JSON text of the data, stored once and sent as is. */
export interface StoredMessage {
  offset: number;
  payload: string;
}

/** Retention that applies to one channel, resolved by the hub from the channel rules. */
export interface Retention {
  /** Messages kept; 0 keeps none (offsets are still assigned). */
  size: number;
  /** Milliseconds a message is kept; measured on a monotonic clock. */
  ttl: number;
}

/**
 * Idempotency keys reach the store in two namespaces: `hub.publish()` / HTTP API keys with
 * this prefix, client message ids (`mid`) with {@link CLIENT_KEY_PREFIX}, so a client can never
 * pre-claim a key the backend will use (its publish would then be a silent duplicate).
 */
export const SERVER_KEY_PREFIX = 's:';
/** Namespace of client message ids in the store (see {@link SERVER_KEY_PREFIX}). */
export const CLIENT_KEY_PREFIX = 'c:';

/** Options of one append. */
export interface AppendOptions extends Retention {
  /** De-duplication key: a second append with the same key inside `dedupWindow` stores nothing. */
  idempotencyKey?: string;
}

/** Result of an append: the message's place, and whether it was a retry of an earlier append. */
export interface AppendResult extends Position {
  duplicate: boolean;
}

/** Result of a read. */
export interface ReadResult {
  /** Messages with offset greater than `after`, in offset order, at most `limit`. */
  messages: StoredMessage[];
  /** The stream's state when the read was served. */
  state: StreamState;
}

/**
 * History storage: assigns offsets, keeps a bounded window, remembers idempotency keys.
 *
 * The contract (frozen; `switchyardjs/testing` `storageConformance` checks every clause):
 * - **Offsets** of a channel are integers 1, 2, 3, … assigned by the store, contiguous and
 *   unique within an epoch, even when several storage instances (one per node) append
 *   concurrently to one shared backend.
 * - **Epoch**: an opaque non-empty string naming this incarnation of the stream. It changes
 *   whenever stored history or the offset counter may have been lost (restart without
 *   persistence, eviction, expiry of the stream's keys); offsets of a new epoch start again at 1.
 *   An epoch never changes while the stream's data is intact.
 * - **Retention**: after an append, at most `size` newest messages are kept, and none older than
 *   `ttl` ms; messages are never removed from the middle, so what is kept is one contiguous
 *   range `earliest..offset`. Age trimming also applies on `read`/`state`.
 * - **Failure**: a method that cannot reach its backend rejects promptly (it never hangs until
 *   the backend returns, and `append` never resolves without having stored the message). A
 *   rejected `append` may or may not have stored the message; the hub reports it as 201
 *   ENGINE_UNAVAILABLE and a QoS 1 publisher retries with the same idempotency key.
 */
export interface Storage {
  /**
   * Appends one message and resolves with its offset once it is stored. With an
   * `idempotencyKey` already used on this channel inside the store's de-duplication window
   * (and in the current epoch), stores nothing and resolves with the first append's position
   * and `duplicate: true`.
   */
  append(channel: string, payload: string, options: AppendOptions): Promise<AppendResult>;
  /**
   * Reads messages with offset greater than `after`, in ascending contiguous order, at most
   * `limit` (≥ 1). When `after` is older than what is retained, reading starts at
   * `state.earliest`; the caller compares `after` with `state.earliest` to detect the gap.
   * A stream that does not exist is created (with a fresh epoch) as `state` does.
   */
  read(channel: string, after: number, limit: number): Promise<ReadResult>;
  /**
   * Current state of the stream; creates it (offset 0, a fresh epoch) if it does not exist.
   * `since` is the position the caller resumes from (a resubscribe, a history page), if any:
   * a store whose reads may lag behind its writes (a region's Redis replica) waits, bounded,
   * until it has caught up with that position instead of answering with an older state.
   * Other stores ignore it.
   */
  state(channel: string, since?: Position): Promise<StreamState>;
  /** Releases resources. Idempotent; other calls may reject afterwards. */
  close(): Promise<void>;
}

/** A message travelling on the broker. */
export interface BrokerMessage extends Position {
  channel: string;
  payload: string;
}

/** Callbacks a broker reports to. */
export interface BrokerSink {
  /**
   * A message for a channel this node has interest in (exactly or through a pattern). Called at
   * most once per message per node, and for one channel in publish order (which is offset order).
   */
  message(message: BrokerMessage): void;
  /**
   * The bus connection was interrupted and is back (interest already re-established): messages
   * may have been missed meanwhile, so the hub re-checks every live subscription against the
   * store. Without this call a quiet channel would keep a silent gap.
   */
  interrupted(): void;
}

/**
 * Cross-node fan-out with interest-based routing. A node receives only messages of channels
 * it declared interest in, so traffic per node grows with what its clients watch, not with the
 * cluster's total. The contract (`switchyardjs/testing` `brokerConformance` checks it):
 * - `subscribe(x)` resolves once interest is in effect: every message published afterwards on
 *   any node to a channel matching `x` reaches this node's sink.
 * - After `unsubscribe(x)` resolves, messages matching only `x` stop arriving (a message in
 *   flight may still arrive; the hub ignores it).
 * - Per channel, messages reach each interested node in the order they were published; each
 *   message reaches a node's sink once even when several of its interests match it.
 * - The hub counts interest per channel and calls `subscribe`/`unsubscribe` only on the first
 *   and last local subscriber, so the broker needs no reference counting of its own.
 * - Publishing while the bus is down rejects (the hub logs it; subscribers detect the missing
 *   offset on the next message or on `interrupted`).
 */
export interface Broker {
  /** Starts delivery to `sink`. Resolves when the broker can publish (or gave up waiting; later calls then reject). */
  start(sink: BrokerSink): Promise<void>;
  /** Publishes a stored message to every node interested in its channel (including this one). */
  publish(message: BrokerMessage): Promise<void>;
  /** Declares local interest in a channel or a pattern (`*`, `>` segments, see docs/protocol.md). */
  subscribe(channel: string): Promise<void>;
  /** Withdraws local interest. */
  unsubscribe(channel: string): Promise<void>;
  /** Stops delivery and releases the bus connection. Idempotent. */
  close(): Promise<void>;
}

/** One member of a channel's presence as a {@link PresenceStore} keeps it. */
export interface StoredPresenceMember {
  /** The member connection's id. */
  connectionId: string;
  /** JSON text of the member's info, or undefined when the hub has no `presenceInfo` hook. */
  info: string | undefined;
}

/** A page of a channel's members. */
export interface PresenceMembers {
  /** At most the `limit` asked for, in no particular order. */
  members: StoredPresenceMember[];
  /** True when the channel has more members than were returned. */
  truncated: boolean;
}

/**
 * Who is subscribed to each presence channel. The hub calls `join` once a subscribe to a
 * presence channel succeeded and `leave` on unsubscribe or disconnect, always for a connection
 * of its own node, and once per (channel, connection) pair. Join/leave events are fanned out
 * by the hub to its local subscribers; the store only answers "who is there" (and, with the
 * optional `watch`, reports other nodes' joins and leaves).
 * The hub calls `leave` for a pair only after that pair's `join` resolved.
 */
export interface PresenceStore {
  /** Records `connectionId` as a member of `channel` with `info` (JSON text or undefined). */
  join(channel: string, connectionId: string, info: string | undefined): Promise<void>;
  /** Removes the member; resolves even when it was not a member. */
  leave(channel: string, connectionId: string): Promise<void>;
  /** Up to `limit` (≥ 1) members of `channel`; `truncated` when there are more. */
  members(channel: string, limit: number): Promise<PresenceMembers>;
  /** Releases resources. Idempotent. */
  close(): Promise<void>;
  /**
   * Optional, for stores shared by several nodes: the hub calls this once, at construction,
   * with the sink that receives joins and leaves made on OTHER nodes (never this node's own:
   * the hub announces those itself). Without it, events stay per node.
   */
  watch?(sink: PresenceSink): void;
  /**
   * Optional companion of {@link PresenceStore.watch}: the hub calls `interest(channel, true)`
   * when a channel gets its first local event watcher and `interest(channel, false)` when its
   * last one ends, so a store delivers remote events only for channels someone here watches.
   * Failures are the store's to log and retry; the hub does not wait.
   */
  interest?(channel: string, watching: boolean): void;
}

/** Receives presence events from other nodes (see {@link PresenceStore.watch}). */
export interface PresenceSink {
  /** `member` joined `channel` on another node. */
  join(channel: string, member: StoredPresenceMember): void;
  /** `connectionId` left `channel` on another node, or its node died. */
  leave(channel: string, connectionId: string): void;
}

/** A storage and a broker used together by a hub. */
export interface Engine {
  readonly storage: Storage;
  readonly broker: Broker;
  /**
   * Presence state (optional). Default: an in-memory store local to the hub, so with a
   * multi-node engine each node then sees only its own members (see docs/presence.md).
   */
  readonly presence?: PresenceStore;
  /**
   * True when `storage.append` already publishes on the broker atomically (so bus order equals
   * offset order) and the hub must not call `broker.publish` itself. Default false: the hub
   * publishes after the append resolves, so two nodes' messages of one channel may reach the bus
   * out of offset order; subscribers then detect the jump and fill it from the store (slower, never wrong).
   */
  readonly appendPublishes?: boolean;
}
