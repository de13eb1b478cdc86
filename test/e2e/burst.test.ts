// A healthy client must not look congested because the server wrote a burst in one event-loop
// turn: write coalescing may batch frames, but it must not hold back more than the network takes.
import t from 'tap';
import type { Message } from '../../adapters/client-node.js';
import { connectClient, startServer } from '../helpers/server.js';

t.test('a burst larger than the high-water mark in one turn reaches a healthy client without drops', async (t) => {
  const s = await startServer(t, {
    limits: { queueHighWaterBytes: 256 * 1024, maxQueuedBytes: 512 * 1024 },
    history: { size: 1000 },
  });
  const c = await connectClient(t, s.url);
  const got: Message[] = [];
  let done!: () => void;
  const all = new Promise<void>((r) => (done = r));
  const N = 400;
  await c.subscribe('burst', (m) => {
    got.push(m);
    if (got.length === N) done();
  }).ready;
  const payload = 'x'.repeat(4096);
  // 400 × 4 KiB = 1.6 MiB published without yielding to the event loop.
  await Promise.all(Array.from({ length: N }, (_, i) => s.hub.publish('burst', { i, payload })));
  await all;
  t.equal(got.length, N);
  t.same(
    got.map((m) => m.offset),
    Array.from({ length: N }, (_, i) => i + 1),
  );
  t.equal(s.hub.counters.dropped, 0, 'nothing dropped');
  t.equal(s.hub.counters.slowConsumerCloses, 0, 'not closed as a slow consumer');
});
