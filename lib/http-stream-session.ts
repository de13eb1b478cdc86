/**
 * One HTTP-streaming connection ([HS-*] in docs/protocol.md): the server→client half is a
 * long-lived response carrying Server-Sent-Events framing, the client→server half arrives as
 * POSTs, possibly on another node. {@link StreamTransport} implements the core's
 * {@link Transport} on the response, so the hub treats the stream exactly like a WebSocket
 * (heartbeats, limits, backpressure, slow-consumer close); {@link StreamSession} puts the POSTed
 * batches back in the order the client sent them before the connection sees them.
 * The core never sees `node:http`: the adapter hands it a {@link StreamSink}.
 * @module
 */
import type { ConnectionInput, OutgoingFrame, Transport } from './transport.js';

/** What the core needs from the response of an open stream (node:http's ServerResponse fits). */
export interface StreamSink {
  write(chunk: string | Uint8Array): boolean;
  end(): void;
  destroy(): void;
  cork(): void;
  uncork(): void;
  /** Bytes queued and not yet written to the network: the backpressure signal. */
  readonly writableLength: number;
}

const encoder = new TextEncoder();
const DATA = encoder.encode('data: ');
const END = encoder.encode('\n\n');

// Like the WebSocket transport's framing cache: fan-out hands the same bytes to many streams in a
// row, so the SSE event around the last payload is built once for all of them.
let lastPayload: Uint8Array | undefined;
let lastEvent: Uint8Array | undefined;

/**
 * [HS-3] The SSE event that carries one frame: `data: <frame>\n\n`. A frame is JSON text, which
 * never contains a raw CR or LF (JSON escapes them), so one `data:` line always holds it whole.
 */
export function sseEvent(frame: OutgoingFrame): Uint8Array {
  if (typeof frame === 'string') return encoder.encode('data: ' + frame + '\n\n');
  if (frame === lastPayload) return lastEvent!;
  const out = new Uint8Array(DATA.length + frame.length + END.length);
  out.set(DATA, 0);
  out.set(frame, DATA.length);
  out.set(END, DATA.length + frame.length);
  lastPayload = frame;
  lastEvent = out;
  return out;
}

/** [HS-4] The SSE event that ends a stream with a close code and reason (what a close frame is on a WebSocket). */
export function closeEvent(code: number, reason: string): string {
  return 'event: close\ndata: ' + JSON.stringify({ code, reason }) + '\n\n';
}

// Coalescing, as the WebSocket transport does: the first frame a stream gets in a turn corks its
// response and one nextTick-style callback uncorks them all, so a burst leaves in one write.
const corked: StreamTransport[] = [];
let flushScheduled = false;

function flushCorked(): void {
  flushScheduled = false;
  for (const t of corked) t.uncork();
  corked.length = 0;
}

/** The server→client half of a stream as a {@link Transport}. */
export class StreamTransport implements Transport {
  private ended = false;
  private corked = false;

  constructor(
    private readonly sink: StreamSink,
    /** Bytes queued on a corked response at which it is written out at once. */
    private readonly flushAt = 64 * 1024,
  ) {}

  /** Whether the stream was closed or terminated (by either side). */
  get closed(): boolean {
    return this.ended;
  }

  send(frame: OutgoingFrame): void {
    if (this.ended) return;
    if (!this.corked) {
      this.corked = true;
      this.sink.cork();
      corked.push(this);
      if (!flushScheduled) {
        flushScheduled = true;
        process.nextTick(flushCorked);
      }
    }
    this.sink.write(sseEvent(frame));
    if (this.sink.writableLength >= this.flushAt) this.uncork();
  }

  /** Sends what was coalesced since the response was corked (idempotent). @internal */
  uncork(): void {
    if (!this.corked) return;
    this.corked = false;
    this.sink.uncork();
  }

  close(code: number, reason: string, discard = false): void {
    if (this.ended) return;
    this.ended = true;
    // A slow consumer's queue is what is wrong with it: free it now rather than queue the close behind it.
    if (discard) return this.sink.destroy();
    this.uncork();
    this.sink.write(closeEvent(code, reason));
    this.sink.end();
  }

  terminate(): void {
    if (this.ended) return;
    this.ended = true;
    this.sink.destroy();
  }

  /** Called by the adapter when the response closed from the other side (client gone, socket error). */
  markClosed(): void {
    this.ended = true;
  }

  get bufferedAmount(): number {
    return this.sink.writableLength;
  }
}

/** Batches held while an earlier one is missing; more means the client is broken, not reordered. */
export const MAX_OUT_OF_ORDER = 16;
/** Milliseconds a later batch waits for a missing earlier one before the stream is closed (the client reconnects and recovers). */
export const REORDER_TIMEOUT_MS = 10_000;

/** What a session reports a POSTed batch as. */
export type UplinkOutcome = 'delivered' | 'duplicate' | 'held' | 'overflow';

/**
 * The client→server half: [HS-6] POSTed batches carry a sequence number (0, 1, 2, …) because
 * without sticky sessions two POSTs may reach the stream's node by different routes (one direct,
 * one through the broker) and arrive out of order. Batches are handed to the connection in
 * sequence order; a retried batch (same number) is ignored.
 */
export class StreamSession {
  private next = 0;
  private readonly held = new Map<number, readonly string[]>();
  private reorderTimer: ReturnType<typeof setTimeout> | undefined;
  /** Set once the hub accepted the connection. */
  input: ConnectionInput | undefined;

  constructor(
    /** `<node id>.<secret>`: names the node holding the stream, and is the bearer capability for POSTs. */
    readonly id: string,
    readonly transport: StreamTransport,
    /** Called when the session must end because a batch never arrived ([HS-6]). */
    private readonly onGap: () => void,
    private readonly reorderTimeout = REORDER_TIMEOUT_MS,
  ) {}

  /** Hands batch `seq` (and any held batches that now follow) to the connection in order. */
  uplink(seq: number, frames: readonly string[]): UplinkOutcome {
    if (seq < this.next || this.held.has(seq)) return 'duplicate';
    if (seq > this.next) {
      if (this.held.size >= MAX_OUT_OF_ORDER) return 'overflow';
      this.held.set(seq, frames);
      this.reorderTimer ??= setTimeout(this.onGap, this.reorderTimeout);
      return 'held';
    }
    this.deliver(frames);
    let later: readonly string[] | undefined;
    while ((later = this.held.get(this.next)) !== undefined) {
      this.held.delete(this.next);
      this.deliver(later);
    }
    if (this.held.size === 0 && this.reorderTimer !== undefined) {
      clearTimeout(this.reorderTimer);
      this.reorderTimer = undefined;
    }
    return 'delivered';
  }

  private deliver(frames: readonly string[]): void {
    this.next++;
    for (const f of frames) this.input?.receive(f, false);
  }

  /** Releases the session's timer (the stream ended). */
  dispose(): void {
    clearTimeout(this.reorderTimer);
    this.reorderTimer = undefined;
    this.held.clear();
  }
}
