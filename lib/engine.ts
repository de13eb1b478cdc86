/**
 * The storage and broker contracts. The hub talks only to these; the in-memory engine
 * (`history-memory.ts`, `broker-local.ts`) is the default, the Redis engine lives in
 * `adapters/redis`. `docs/storage-adapters.md` explains how to implement them and
 * `switchyard/testing` holds the conformance suite.
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

/** History storage: assigns offsets, keeps a bounded window, remembers idempotency keys. */
export interface Storage {
  /** Appends one message; the store assigns the next offset atomically. */
  append(channel: string, payload: string, options: AppendOptions): Promise<AppendResult>;
  /** Reads messages after `after`, at most `limit`. */
  read(channel: string, after: number, limit: number): Promise<ReadResult>;
  /** Current state of the stream; creates it (with a fresh epoch) if it does not exist. */
  state(channel: string): Promise<StreamState>;
  /** Releases resources. */
  close(): Promise<void>;
}

/** A message travelling on the broker. */
export interface BrokerMessage extends Position {
  channel: string;
  payload: string;
}

/** Callbacks a broker reports to. */
export interface BrokerSink {
  /** A message for a channel this node has interest in. */
  message(message: BrokerMessage): void;
  /** The bus connection was interrupted: messages may have been missed since `since`. */
  interrupted(): void;
}

/** Cross-node fan-out with interest-based routing. */
export interface Broker {
  /** Starts delivery to `sink`. */
  start(sink: BrokerSink): Promise<void>;
  /** Publishes a stored message to every node interested in its channel (including this one). */
  publish(message: BrokerMessage): Promise<void>;
  /** Declares local interest in a channel or a pattern (`*`, `>` segments, see docs/protocol.md). */
  subscribe(channel: string): Promise<void>;
  /** Withdraws local interest. */
  unsubscribe(channel: string): Promise<void>;
  close(): Promise<void>;
}

/** A storage and a broker used together by a hub. */
export interface Engine {
  readonly storage: Storage;
  readonly broker: Broker;
  /**
   * True when `storage.append` already publishes on the broker atomically (so bus order equals
   * offset order) and the hub must not call `broker.publish` itself.
   */
  readonly appendPublishes?: boolean;
}
