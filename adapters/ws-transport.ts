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

/** Wraps a `ws` socket as a {@link Transport}. */
export class WsTransport implements Transport {
  constructor(private readonly ws: WebSocket) {}

  send(frame: OutgoingFrame): void {
    if (this.ws.readyState !== 1) return;
    // Text frames: a Buffer prepared once for many sockets is sent without another copy.
    this.ws.send(frame, { binary: false });
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
  const input = hub.accept(new WsTransport(ws), user);
  ws.on('message', (data, isBinary) => {
    input.receive(isBinary ? '' : data.toString(), isBinary);
  });
  ws.on('close', (code) => input.closed(code));
  // A socket error is followed by 'close'; listening keeps it from becoming an uncaught exception.
  ws.on('error', () => {});
}
