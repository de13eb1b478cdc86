// When adapters/ws-transport.ts writes a socket's frames to the kernel: the first frame of a turn
// at once (the subscriber's latency does not wait for the rest of the fan-out loop), the frames
// after it in the same turn coalesced into one write at the end of the turn, and a socket whose
// last turn was a burst coalesced from its first frame. Checked on a recording stand-in for the
// TCP socket under a ws socket (the only parts WsTransport touches).
import t from 'tap';
import type { WebSocket } from 'ws';
import { WsTransport } from '../../adapters/ws-transport.js';

/** A ws socket whose TCP socket records what reaches the kernel, and when. */
function fakeSocket(): { ws: WebSocket; kernel: string[][]; log: string[] } {
  const kernel: string[][] = [];
  let pending: string[] | undefined;
  const log: string[] = [];
  const tcp = {
    cork() {
      log.push('cork');
      pending ??= [];
    },
    uncork() {
      log.push('uncork');
      if (pending?.length) kernel.push(pending);
      pending = undefined;
    },
    write(chunk: Uint8Array) {
      const text = Buffer.from(chunk).subarray(2).toString();
      log.push(`write ${text}`);
      if (pending) pending.push(text);
      else kernel.push([text]);
      return true;
    },
  };
  const ws = {
    readyState: 1,
    extensions: '',
    bufferedAmount: 0,
    _socket: tcp,
    _sender: { _socket: tcp, _bufferedBytes: 0, _queue: [] },
  };
  return { ws: ws as unknown as WebSocket, kernel, log };
}

const endOfTurn = (): Promise<void> => new Promise((r) => setImmediate(r));
const frame = (s: string): Buffer => Buffer.from(s);

t.test('one frame per turn reaches the kernel at once, never corked', async (t) => {
  const s = fakeSocket();
  const tr = new WsTransport(s.ws);
  tr.send(frame('a'));
  t.same(s.kernel, [['a']], 'written before the sending loop returns');
  await endOfTurn();
  tr.send(frame('b'));
  t.same(s.kernel, [['a'], ['b']]);
  await endOfTurn();
  t.notOk(s.log.includes('cork'), 'no cork/uncork round for a lone frame');
});

t.test('the frames after the first in one turn leave together when the turn ends', async (t) => {
  const s = fakeSocket();
  const tr = new WsTransport(s.ws);
  tr.send(frame('a'));
  tr.send(frame('b'));
  tr.send(frame('c'));
  t.same(s.kernel, [['a']], 'the first frame is out, the others wait for the end of the turn');
  await endOfTurn();
  t.same(s.kernel, [['a'], ['b', 'c']], 'b and c in one write, after a');
});

t.test('after a burst turn the next turn is coalesced from its first frame; a lone frame ends that', async (t) => {
  const s = fakeSocket();
  const tr = new WsTransport(s.ws);
  tr.send(frame('a'));
  tr.send(frame('b'));
  await endOfTurn();
  tr.send(frame('c'));
  tr.send(frame('d'));
  t.same(s.kernel, [['a'], ['b']], 'c waits: the socket gets bursts');
  await endOfTurn();
  t.same(s.kernel, [['a'], ['b'], ['c', 'd']], 'one write for the whole turn');
  tr.send(frame('e'));
  await endOfTurn();
  tr.send(frame('f'));
  t.same(s.kernel.at(-1), ['f'], 'after a turn with one frame, the first frame goes out at once again');
  await endOfTurn();
  t.same(s.kernel.flat(), ['a', 'b', 'c', 'd', 'e', 'f'], 'in order');
});

t.test(
  'a corked socket is written out early once flushAt bytes wait, and re-corked for the rest of the turn',
  async (t) => {
    const s = fakeSocket();
    const tr = new WsTransport(s.ws, 1024);
    tr.send(frame('a'));
    tr.send(frame('b'));
    (s.ws as unknown as { bufferedAmount: number }).bufferedAmount = 2048;
    tr.send(frame('c'));
    t.same(s.kernel, [['a'], ['b', 'c']], 'flushed as soon as flushAt was reached');
    (s.ws as unknown as { bufferedAmount: number }).bufferedAmount = 0;
    tr.send(frame('d'));
    t.same(s.kernel.length, 2, 'd is coalesced again');
    await endOfTurn();
    t.same(s.kernel, [['a'], ['b', 'c'], ['d']]);
  },
);
