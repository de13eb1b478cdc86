/**
 * The WebSocket transport: implements the core's {@link Transport} on a `ws` socket and feeds
 * its events to the hub. This is the only file that knows a `ws` socket's API.
 * @module
 */
import type { WebSocket } from 'ws';
import type { Switchyard } from '../lib/hub.js';
import type { OutgoingFrame, Transport } from '../lib/transport.js';

/** Milliseconds a peer gets to answer our close frame before the socket is destroyed. */
const CLOSE_HANDSHAKE_MS = 2_000;

/** The TCP socket under a `ws` socket (ws keeps it in `_socket`; it has no public accessor). */
interface Corkable {
  cork(): void;
  uncork(): void;
}

// Write coalescing: the first frame a socket gets in an event-loop turn corks it, and one
// callback queued with process.nextTick (it runs once the current callback and its promise
// chains are done) uncorks every corked socket, so all frames a socket got meanwhile leave in one
// writev syscall instead of one each. The syscall per frame is what dominates fan-out CPU.
const corked: WsTransport[] = [];
const TEXT = { binary: false };
const ignore = (): void => {};
let flushScheduled = false;

function flushCorked(): void {
  flushScheduled = false;
  for (const t of corked) t.uncork();
  corked.length = 0;
}

/** Wraps a `ws` socket as a {@link Transport}. */
export class WsTransport implements Transport {
  private readonly socket: Corkable | undefined;
  private corked = false;

  /**
   * @param flushAt bytes queued on a corked socket at which it is written out at once, so a burst
   *   in one turn never looks like a slow consumer (keep it well below `limits.queueHighWaterBytes`).
   */
  constructor(
    private readonly ws: WebSocket,
    private readonly flushAt = 64 * 1024,
  ) {
    this.socket = (ws as unknown as { _socket?: Corkable })._socket;
  }

  send(frame: OutgoingFrame): void {
    if (this.ws.readyState !== 1) return;
    if (!this.corked && this.socket) {
      this.corked = true;
      this.socket.cork();
      corked.push(this);
      if (!flushScheduled) {
        flushScheduled = true;
        process.nextTick(flushCorked);
      }
    }
    // Text frames: a Buffer prepared once for many sockets is sent without another copy.
    this.ws.send(frame, TEXT);
    if (this.corked && this.ws.bufferedAmount >= this.flushAt) this.uncork();
  }

  /** Sends what was coalesced since the socket was corked (idempotent). @internal */
  uncork(): void {
    if (!this.corked) return;
    this.corked = false;
    this.socket!.uncork();
  }

  close(code: number, reason: string): void {
    if (this.ws.readyState >= 2) return;
    this.ws.close(code, reason);
    setTimeout(() => this.ws.terminate(), CLOSE_HANDSHAKE_MS).unref();
  }

  terminate(): void {
    this.ws.terminate();
  }

  get bufferedAmount(): number {
    return this.ws.bufferedAmount;
  }
}

/** Connects an open `ws` socket to the hub for the rest of its life. */
export function bindSocket(hub: Switchyard, ws: WebSocket, user: unknown): void {
  // Coalesce at most a quarter of the high-water mark (64 KiB by default) per socket and turn.
  const flushAt = Math.max(1024, Math.min(64 * 1024, hub.options.limits.queueHighWaterBytes >> 2));
  const input = hub.accept(new WsTransport(ws, flushAt), user);
  ws.on('message', (data, isBinary) => {
    input.receive(isBinary ? '' : data.toString(), isBinary);
  });
  ws.on('close', (code) => input.closed(code));
  // A socket error is followed by 'close'; listening keeps it from becoming an uncaught exception.
  ws.on('error', ignore);
}
