/**
 * No sticky sessions for HTTP streaming ([HS-5]): a POST may reach any node, so the session id
 * names the node holding the stream, and a node that does not hold it forwards the batch on the
 * engine's own broker to that node's uplink channel. The channel is reserved (`$` is not a channel
 * character, [CH-1]), one per node, subscribed when the node opens its first stream; the memory
 * engine's broker delivers it locally, the Redis engine through its pub/sub like any channel.
 * @module
 */
import type { BrokerMessage } from './engine.js';
import type { StreamSession, UplinkOutcome } from './http-stream-session.js';

/** Prefix of the broker channel a node receives forwarded POSTs on: `$switchyard.uplink.<node id>`. */
export const UPLINK_CHANNEL_PREFIX = '$switchyard.uplink.';

/** What the session table needs from the hub. */
export interface UplinkHost {
  /** This node's id (the cluster node list's, so it is unique per hub start). */
  readonly nodeId: string;
  publish(m: BrokerMessage): Promise<void>;
  subscribe(channel: string): Promise<void>;
  log(level: 'warn' | 'debug', obj: object, msg: string): void;
}

/** What became of a POSTed batch. */
export type RouteOutcome = UplinkOutcome | 'forwarded' | 'unknown';

// Session ids: "<node id>.<32 hex>". The node id is the NodeDirectory's (hex).
const SESSION_ID = /^([0-9a-f]{1,64})\.[0-9a-f]{32}$/;

let sequence = 0;

/** The node named by a session id, or undefined when the id is malformed. */
export function nodeOfSession(sid: string): string | undefined {
  return SESSION_ID.exec(sid)?.[1];
}

/** The streams open on this node, by session id, and the forwarding of POSTs between nodes. */
export class StreamSessions {
  private readonly sessions = new Map<string, StreamSession>();
  private listening: Promise<void> | undefined;

  constructor(private readonly host: UplinkHost) {}

  /** A new session id on this node: 128 random bits, so it can serve as the POSTs' bearer capability. */
  newId(): string {
    const b = new Uint8Array(16);
    globalThis.crypto.getRandomValues(b);
    let s = '';
    for (const x of b) s += x.toString(16).padStart(2, '0');
    return this.host.nodeId + '.' + s;
  }

  /** Resolves once batches forwarded by other nodes reach this node; rejects (and retries next time) when the broker fails. */
  listen(): Promise<void> {
    this.listening ??= this.host.subscribe(UPLINK_CHANNEL_PREFIX + this.host.nodeId).catch((err: unknown) => {
      this.listening = undefined;
      throw err;
    });
    return this.listening;
  }

  add(session: StreamSession): void {
    this.sessions.set(session.id, session);
  }

  remove(session: StreamSession): void {
    if (this.sessions.get(session.id) === session) this.sessions.delete(session.id);
    session.dispose();
  }

  get size(): number {
    return this.sessions.size;
  }

  /**
   * Delivers a POSTed batch to its session: here when this node holds it, else on the broker to
   * the node the id names. Rejects when the broker cannot take the message (nothing was delivered).
   */
  async route(sid: string, seq: number, frames: readonly string[]): Promise<RouteOutcome> {
    const node = nodeOfSession(sid);
    if (node === undefined) return 'unknown';
    if (node === this.host.nodeId) {
      const session = this.sessions.get(sid);
      return session ? session.uplink(seq, frames) : 'unknown';
    }
    // Offset and epoch only keep the broker from taking two batches for one repeated message.
    await this.host.publish({
      channel: UPLINK_CHANNEL_PREFIX + node,
      offset: ++sequence,
      epoch: 'up-' + this.host.nodeId,
      payload: JSON.stringify({ s: sid, q: seq, f: frames }),
    });
    return 'forwarded';
  }

  /** A batch another node forwarded here (the hub's broker sink calls this for the uplink channel). */
  receive(m: BrokerMessage): void {
    let b: { s?: unknown; q?: unknown; f?: unknown };
    try {
      b = JSON.parse(m.payload);
    } catch {
      return;
    }
    if (
      typeof b !== 'object' ||
      b === null ||
      typeof b.s !== 'string' ||
      !Number.isSafeInteger(b.q) ||
      !Array.isArray(b.f)
    )
      return;
    const frames = b.f.filter((f): f is string => typeof f === 'string');
    const session = this.sessions.get(b.s);
    // The stream ended meanwhile: the client reconnects and its QoS 1 publishes are retried there.
    if (!session) return this.host.log('debug', { channel: m.channel }, 'forwarded batch for a stream no longer open');
    session.uplink(b.q as number, frames);
  }
}
