// A Transport over plain arrays, for core tests that never open a socket.
import type { Switchyard } from '../../lib/hub.js';
import type { ConnectionInput, OutgoingFrame, Transport } from '../../lib/transport.js';

export class FakeTransport implements Transport {
  readonly frames: any[] = [];
  /** Each frame as handed to send(), to check that one prepared frame is shared by many sockets. */
  readonly raw: OutgoingFrame[] = [];
  closedWith: { code: number; reason: string } | undefined;
  terminated = false;
  bufferedAmount = 0;
  /** When set, frames are counted as queued bytes instead of being "written". */
  stalled = false;
  private waiters: Array<{ pred: (f: any) => boolean; resolve: (f: any) => void }> = [];

  send(frame: OutgoingFrame): void {
    this.raw.push(frame);
    const text = typeof frame === 'string' ? frame : Buffer.from(frame).toString('utf8');
    if (this.stalled) this.bufferedAmount += Buffer.byteLength(text);
    const f = JSON.parse(text);
    this.frames.push(f);
    this.waiters = this.waiters.filter((w) => (w.pred(f) ? (w.resolve(f), false) : true));
  }
  /** Set by fakeClient: lets close() complete the handshake like a cooperative peer. */
  input: ConnectionInput | undefined;
  /** Set when the hub asked to discard the queue and destroy the socket at once (3002). */
  discarded = false;
  close(code: number, reason: string, discard = false): void {
    this.closedWith ??= { code, reason };
    if (discard) this.discarded = true;
    queueMicrotask(() => this.input?.closed(code));
  }
  terminate(): void {
    this.terminated = true;
    queueMicrotask(() => this.input?.closed(1006));
  }
  /** Resolves with the first frame (already received or future) matching `pred`. */
  next(pred: (f: any) => boolean): Promise<any> {
    const found = this.frames.find(pred);
    if (found) return Promise.resolve(found);
    return new Promise((resolve) => this.waiters.push({ pred, resolve }));
  }
  of(op: string): any[] {
    return this.frames.filter((f) => f.op === op);
  }
}

export interface FakeClient {
  t: FakeTransport;
  input: ConnectionInput;
  send: (f: unknown) => void;
  reply: (id: number) => Promise<any>;
  /** Subscribes to each channel (fresh request ids) and resolves with the replies, in order. */
  subscribe: (...channels: string[]) => Promise<any[]>;
}

/** A connected fake client: send frames as objects, read what the hub sent. */
export function fakeClient(hub: Switchyard, user?: unknown): FakeClient {
  const t = new FakeTransport();
  const input = hub.accept(t, user);
  t.input = input;
  let nextId = 1000;
  const send = (f: unknown): void => input.receive(typeof f === 'string' ? f : JSON.stringify(f), false);
  const reply = (id: number): Promise<any> => t.next((f) => (f.op === 'ok' || f.op === 'err') && f.id === id);
  const subscribe = (...channels: string[]): Promise<any[]> =>
    Promise.all(
      channels.map((ch) => {
        const id = nextId++;
        send({ op: 'sub', id, ch });
        return reply(id);
      }),
    );
  return { t, input, send, reply, subscribe };
}
