// A big catch-up never closes a healthy subscriber (issue 9 item 4): congestion is checked before
// every write, a congested QoS 1 subscription pauses and resumes when the socket drains, and
// subscribers replaying the same messages share one frame per message.
import t from 'tap';
import type { Message } from '../../adapters/client-node.js';
import { connectClient, startServer, until } from '../helpers/server.js';
import { audit, coreHub, fakeClient, received, sub } from './helpers.js';

const KIB256 = 'x'.repeat(256 * 1024 - 64);

t.test(
  'a QoS 1 subscriber resuming 100 messages of 256 KiB behind gets all of them and is never closed; a live QoS 1 subscriber on the same burst neither',
  async (t) => {
    // Default queue limits (1 MiB high water, 8 MiB cap); messages of 256 KiB need a larger maxMessageBytes.
    const { hub, url } = await startServer(t, { history: { size: 200 }, limits: { maxMessageBytes: 300 * 1024 } });
    const closes: number[] = [];
    hub.on('disconnect', ({ code }) => closes.push(code));

    const live = await connectClient(t, url);
    const liveSeen: number[] = [];
    await live.subscribe('big.c', (m) => void liveSeen.push(m.offset), { qos: 1 }).ready;

    const first = await hub.publish('big.c', { n: 0 });
    for (let i = 1; i <= 100; i++) await hub.publish('big.c', { n: i, pad: KIB256 });

    const behind = await connectClient(t, url);
    const seen: Array<Message<{ n: number }>> = [];
    const res = await behind.subscribe<{ n: number }>('big.c', (m) => void seen.push(m), { qos: 1, since: first })
      .ready;
    t.equal(res.recovered, true);
    await until(() => seen.length === 100 && liveSeen.length === 101, 60_000);
    t.same(
      audit(
        seen.map((m) => m.offset),
        2,
        101,
      ),
      { lost: 0, duplicated: 0, outOfOrder: 0 },
      'the resuming subscriber got all 100',
    );
    t.same(audit(liveSeen, 1, 101), { lost: 0, duplicated: 0, outOfOrder: 0 }, 'the live subscriber got all 101');
    t.same(closes, [], 'nobody was closed (no 3002)');
    t.equal(hub.counters.slowConsumerCloses, 0);
    t.equal(behind.state, 'connected');
    t.equal(live.state, 'connected');
  },
);

t.test(
  'catch-up checks congestion before every write: a stalled socket gets at most one message past the high-water mark',
  async (t) => {
    const { hub } = coreHub(t, {
      history: { size: 100 },
      limits: { queueHighWaterBytes: 10_000, maxQueuedBytes: 40_000, maxMessageBytes: 5_000 },
    });
    const first = await hub.publish('cong.a', 0);
    for (let i = 0; i < 50; i++) await hub.publish('cong.a', 'y'.repeat(4_000));
    const c = fakeClient(hub);
    c.t.stalled = true; // nothing is written: every frame counts as queued
    await sub(c, 'cong.a', { qos: 1, since: first });
    await new Promise((r) => setTimeout(r, 50));
    t.equal(c.t.closedWith, undefined, 'not closed');
    const msgs = c.t.of('msg').length;
    t.ok(msgs >= 3 && msgs <= 4, `paused after ${msgs} messages (~10,000 bytes high water / 4,000 per message)`);
    // The socket drains: the hub's tick resumes the subscription from history.
    c.t.stalled = false;
    c.t.bufferedAmount = 0;
    const keepAlive = setInterval(() => {}, 1000);
    t.teardown(() => clearInterval(keepAlive));
    await received(c, 'cong.a', 51);
    t.same(
      audit(
        c.t.of('msg').map((f) => f.off),
        2,
        51,
      ),
      { lost: 0, duplicated: 0, outOfOrder: 0 },
      'resumed on drain, nothing lost',
    );
  },
);

t.test('subscribers catching up the same channel share one frame per replayed message', async (t) => {
  const { hub } = coreHub(t, { history: { size: 100 } });
  const first = await hub.publish('share.a', 0);
  for (let i = 1; i <= 20; i++) await hub.publish('share.a', { i });
  const a = fakeClient(hub);
  const b = fakeClient(hub);
  await Promise.all([sub(a, 'share.a', { since: first }), sub(b, 'share.a', { qos: 1, since: first })]);
  await Promise.all([received(a, 'share.a', 21), received(b, 'share.a', 21)]);
  const frames = (c: typeof a) => c.t.raw.filter((f) => typeof f !== 'string' && Buffer.from(f).includes('"op":"msg"'));
  const fa = frames(a);
  const fb = frames(b);
  t.equal(fa.length, 20);
  t.ok(
    fa.every((f, i) => f === fb[i]),
    'the same frame object went to both subscribers',
  );
});
