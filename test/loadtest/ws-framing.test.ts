// The fan-out fast path frames a message once and writes the same bytes to every socket
// (adapters/ws-transport.ts). These check the framing at each header size against a real ws
// client, and that frames of one turn stay in order whichever path sent them.
import t from 'tap';
import WebSocket from 'ws';
import { textFrame } from '../../adapters/ws-transport.js';
import { startServer } from '../helpers/server.js';

t.test('textFrame writes the 2, 4 and 10 byte headers of unmasked text frames', async (t) => {
  const f = (n: number): Buffer => textFrame(Buffer.alloc(n, 0x61));
  t.same([...f(125).subarray(0, 2)], [0x81, 125]);
  t.same([...f(126).subarray(0, 4)], [0x81, 126, 0, 126]);
  t.same([...f(65_535).subarray(0, 4)], [0x81, 126, 0xff, 0xff]);
  t.same([...f(65_536).subarray(0, 10)], [0x81, 127, 0, 0, 0, 0, 0, 1, 0, 0]);
  t.equal(f(300).length, 304);
  const p = Buffer.from('same');
  t.equal(textFrame(p), textFrame(p), 'a payload sent to many sockets is framed once');
});

t.test('messages of every header size reach several subscribers intact and in order', async (t) => {
  const s = await startServer(t, { limits: { maxMessageBytes: 200_000 } });
  const sizes = [0, 100, 125, 126, 1_000, 65_535, 65_536, 150_000];
  const clients = await Promise.all(
    [0, 1, 2].map(
      () =>
        new Promise<{ frames: string[]; done: Promise<void> }>((resolve, reject) => {
          const ws = new WebSocket(s.url, ['switchyard.v1']);
          t.teardown(() => ws.terminate());
          const frames: string[] = [];
          let finish!: () => void;
          const done = new Promise<void>((r) => (finish = r));
          ws.on('error', reject);
          ws.on('message', (d) => {
            const text = d.toString();
            const f = JSON.parse(text);
            if (f.op === 'welcome') ws.send(JSON.stringify({ op: 'sub', id: 1, ch: 'big' }));
            else if (f.op === 'ok') resolve({ frames, done });
            else if (f.op === 'msg') {
              frames.push(text);
              if (frames.length === sizes.length) finish();
            }
          });
        }),
    ),
  );
  // Published without yielding: several frames per socket in one turn (the coalesced path).
  await Promise.all(sizes.map((n) => s.hub.publish('big', 'x'.repeat(n))));
  for (const c of clients) {
    await c.done;
    t.same(
      c.frames.map((x) => JSON.parse(x).data.length),
      sizes,
    );
    t.same(
      c.frames.map((x) => JSON.parse(x).off),
      sizes.map((_, i) => i + 1),
    );
  }
});
