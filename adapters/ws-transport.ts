/**
 * The WebSocket transport: implements the core's {@link Transport} on a `ws` socket and feeds
 * its events to the hub. This is the only file that knows a `ws` socket's API.
 * @module
 */
import type { WebSocket } from 'ws';
import type { Switchyard } from '../lib/hub.js';
import type { Identity } from '../lib/grant.js';
import type { OutgoingFrame, Transport } from '../lib/transport.js';

/** Milliseconds a peer gets to answer our close frame before the socket is destroyed. */
const CLOSE_HANDSHAKE_MS = 2_000;

/** The TCP socket under a `ws` socket (ws keeps it in `_socket`; it has no public accessor). */
interface RawSocket {
  cork(): void;
  uncork(): void;
  write(chunk: Uint8Array): boolean;
}

/** The parts of ws's (internal) Sender that say whether it holds frames back (deflate, blobs). */
interface SenderState {
  _bufferedBytes: number;
  _queue: unknown[];
  _socket: unknown;
}

/**
 * The `ws` internals the fast paths read, or `undefined` for each one that is missing or not
 * shaped as ws 8 has it (test/adapters/ws-internals.test.ts pins them against the installed ws).
 * Without `socket` there is no write coalescing; without `sender` (or with an extension such as
 * permessage-deflate, which transforms frames) every frame goes through the public `ws.send`.
 */
export function wsInternals(ws: WebSocket): { socket: RawSocket | undefined; sender: SenderState | undefined } {
  const internals = ws as unknown as { _socket?: Partial<RawSocket>; _sender?: Partial<SenderState> };
  const s = internals._socket;
  const socket =
    s && typeof s.cork === 'function' && typeof s.uncork === 'function' && typeof s.write === 'function'
      ? (s as RawSocket)
      : undefined;
  const q = internals._sender;
  // Pre-framed bytes may bypass ws only when they go to the very stream ws writes to (so frames keep
  // their order) and no extension transforms frames.
  const sender =
    socket !== undefined &&
    ws.extensions === '' &&
    q &&
    q._socket === s &&
    typeof q._bufferedBytes === 'number' &&
    Array.isArray(q._queue)
      ? (q as SenderState)
      : undefined;
  return { socket, sender };
}

// Framing once: a server frame is unmasked, so the complete WebSocket frame (header + payload) of
// a message is the same bytes for every socket. Fan-out sends one Buffer to many sockets in a
// row, so remembering the last one framed is enough.
let lastPayload: Uint8Array | undefined;
let lastFramed: Buffer | undefined;

/** The complete WebSocket text frame (FIN, opcode 1, no mask) around `payload`. */
export function textFrame(payload: Uint8Array): Buffer {
  if (payload === lastPayload) return lastFramed!;
  const n = payload.length;
  const head = n < 126 ? 2 : n < 65_536 ? 4 : 10;
  const out = Buffer.allocUnsafe(head + n);
  out[0] = 0x81;
  if (n < 126) out[1] = n;
  else if (n < 65_536) {
    out[1] = 126;
    out.writeUInt16BE(n, 2);
  } else {
    out[1] = 127;
    out.writeUInt32BE(Math.floor(n / 2 ** 32), 2);
    out.writeUInt32BE(n >>> 0, 6);
  }
  out.set(payload, head);
  lastPayload = payload;
  lastFramed = out;
  return out;
}

// Write coalescing: a socket's frames of one event-loop turn leave in one writev syscall instead
// of one each (the syscall per frame is what dominates fan-out CPU). A socket that gets a second
// frame in a turn is corked, and one callback queued with process.nextTick (it runs once the
// current callback and its promise chains are done) uncorks every corked socket.
// The first frame of a turn is written at once, as raw ws would: corking it too would hold every
// socket's first byte until the whole fan-out loop ended, which is most of the latency of a
// message to 1,000 sockets (the kernel and the subscribers start only after the last send), and
// a cork/uncork round per socket costs more CPU than the plain write. A socket that got several
// frames in its last turn (a publisher handing over bursts) is corked from the first frame of its
// next turn, so a steady burst still costs one syscall per socket per turn.
const corked: WsTransport[] = [];
const TEXT = { binary: false };
const ignore = (): void => {};
/** The current turn's number; a socket's first frame of a turn is the one sent with another number. */
let turn = 1;
let turnOpen = false;

function endTurn(): void {
  turnOpen = false;
  turn++;
  for (const t of corked) t.uncork();
  corked.length = 0;
}

/** Wraps a `ws` socket as a {@link Transport}. */
export class WsTransport implements Transport {
  private readonly socket: RawSocket | undefined;
  /** Set only together with `socket` (see {@link wsInternals}). */
  private readonly sender: SenderState | undefined;
  private corked = false;
  /** The turn of this socket's last frame, and how many frames it got in that turn. */
  private turn = 0;
  private frames = 0;

  /**
   * @param flushAt bytes queued on a corked socket at which it is written out at once, so a burst
   *   in one turn never looks like a slow consumer (keep it well below `limits.queueHighWaterBytes`).
   */
  constructor(
    private readonly ws: WebSocket,
    private readonly flushAt = 64 * 1024,
  ) {
    const { socket, sender } = wsInternals(ws);
    this.socket = socket;
    this.sender = sender;
  }

  send(frame: OutgoingFrame): void {
    if (this.ws.readyState !== 1) return;
    if (this.socket !== undefined) {
      if (this.turn !== turn) {
        // The first frame of this turn: written at once unless the socket's last turn was a burst.
        const bursting = this.frames > 1;
        this.turn = turn;
        this.frames = 1;
        if (!turnOpen) {
          turnOpen = true;
          process.nextTick(endTurn);
        }
        if (bursting) this.cork();
      } else if (++this.frames > 1 && !this.corked) this.cork();
    }
    // A Buffer prepared once for many sockets is framed once and written as is, in one write, when
    // ws holds nothing back (otherwise ws sends it, keeping frames in order).
    const { socket, sender } = this;
    if (socket && sender && typeof frame !== 'string' && sender._bufferedBytes === 0 && sender._queue.length === 0)
      socket.write(textFrame(frame));
    else this.ws.send(frame, TEXT);
    if (this.corked && this.ws.bufferedAmount >= this.flushAt) this.uncork();
  }

  private cork(): void {
    this.corked = true;
    this.socket!.cork();
    corked.push(this);
  }

  /** Sends what was coalesced since the socket was corked (idempotent). @internal */
  uncork(): void {
    if (!this.corked) return;
    this.corked = false;
    this.socket?.uncork();
  }

  close(code: number, reason: string, discard = false): void {
    if (this.ws.readyState >= 2) return;
    if (discard) {
      // The queue is what is wrong with this connection: free it now (the peer sees 1006).
      this.ws.terminate();
      return;
    }
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
export function bindSocket(
  hub: Switchyard,
  ws: WebSocket,
  user: unknown,
  identity?: Identity,
  remoteAddress?: string,
): void {
  // Coalesce at most a quarter of the high-water mark (64 KiB by default) per socket and turn.
  const flushAt = Math.max(1024, Math.min(64 * 1024, hub.options.limits.queueHighWaterBytes >> 2));
  const input = hub.accept(new WsTransport(ws, flushAt), user, identity, remoteAddress);
  ws.on('message', (data, isBinary) => {
    input.receive(isBinary ? '' : data.toString(), isBinary);
  });
  ws.on('close', (code) => input.closed(code));
  // A socket error is followed by 'close'; listening keeps it from becoming an uncaught exception.
  ws.on('error', ignore);
}
