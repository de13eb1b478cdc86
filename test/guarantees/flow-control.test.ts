// QoS 1 flow control and QoS 0 drops (issue 3 items 6 and 7), over fake transports so queue
// sizes are exact: a QoS 1 subscription never has more than `inflightWindow` deliveries
// unacknowledged, pauses instead of buffering, and catches up from history after acks; a
// congested connection drops QoS 0 messages, counts them, and tells the client.
import t from 'tap';
import { audit, conn, coreHub, fakeClient, frame, offsets, received, sub } from './helpers.js';

t.test(
  'QoS 1: at most inflightWindow unacknowledged deliveries; cumulative acks release the next ones from history',
  async (t) => {
    const { hub } = coreHub(t, { limits: { inflightWindow: 4 }, history: { size: 1_000 } });
    const c = fakeClient(hub);
    await sub(c, 'jobs.a', { qos: 1 });
    for (let i = 0; i < 20; i++) await hub.publish('jobs.a', { i });
    await received(c, 'jobs.a', 4);
    t.same(offsets(c, 'jobs.a'), [1, 2, 3, 4], 'window full after 4');

    // While paused, more traffic holds no memory for this subscriber: nothing buffered, nothing sent.
    for (let i = 0; i < 500; i++) await hub.publish('jobs.a', { more: i });
    const s = conn(c).subs.get('jobs.a')!;
    t.equal(s.buffered.length, 0, 'paused subscription buffers nothing');
    t.same(offsets(c, 'jobs.a'), [1, 2, 3, 4], 'still only the window');

    c.send({ op: 'ack', ch: 'jobs.a', off: 2 });
    await received(c, 'jobs.a', 6);
    t.same(offsets(c, 'jobs.a'), [1, 2, 3, 4, 5, 6], 'ack of 2 releases exactly 2 more');

    // Acknowledge as a client would (cumulatively, in batches) until everything arrived.
    let acked = 2;
    while (acked < 520) {
      const got = offsets(c, 'jobs.a');
      t.ok(got.at(-1)! - acked <= 4, `never more than 4 in flight (acked ${acked}, sent ${got.at(-1)})`);
      acked = got.at(-1)!;
      c.send({ op: 'ack', ch: 'jobs.a', off: acked });
      if (acked < 520) await received(c, 'jobs.a', Math.min(520, acked + 4));
    }
    t.same(audit(offsets(c, 'jobs.a'), 1, 520), { lost: 0, duplicated: 0, outOfOrder: 0 });
  },
);

t.test(
  'QoS 1: a subscriber paused for longer than history covers gets one gap notice, then continues from the oldest retained',
  async (t) => {
    const { hub } = coreHub(t, { limits: { inflightWindow: 4 }, history: { size: 10 } });
    const c = fakeClient(hub);
    await sub(c, 'jobs.t', { qos: 1 });
    for (let i = 0; i < 30; i++) await hub.publish('jobs.t', { i });
    await received(c, 'jobs.t', 4);
    c.send({ op: 'ack', ch: 'jobs.t', off: 4 });
    const gap = await frame(c, (f) => f.op === 'gap', 'gap notice');
    t.same(gap.position.offset, 20, 'resumes after the oldest retained (21)');
    await received(c, 'jobs.t', 24);
    t.same(offsets(c, 'jobs.t'), [1, 2, 3, 4, 21, 22, 23, 24]);
    t.equal(c.t.of('gap').length, 1);
    t.ok(
      c.t.frames.indexOf(gap) < c.t.frames.findIndex((f) => f.op === 'msg' && f.off === 21),
      'the notice precedes the resumed messages',
    );
  },
);

t.test(
  'QoS 1: a congested connection pauses instead of dropping, then catches up from history once drained',
  async (t) => {
    const { hub } = coreHub(t, {
      history: { size: 1_000 },
      limits: { queueHighWaterBytes: 1_000, maxQueuedBytes: 1_000_000, slowConsumerTimeout: 60_000 },
    });
    const c = fakeClient(hub);
    await sub(c, 'jobs.b', { qos: 1 });
    c.t.stalled = true;
    for (let i = 0; i < 200; i++) await hub.publish('jobs.b', { pad: 'x'.repeat(50), i });
    const sentWhileStalled = offsets(c, 'jobs.b').length;
    t.ok(sentWhileStalled < 200, `paused after ${sentWhileStalled} messages`);
    t.ok(c.t.bufferedAmount < 1_000 + 200, `queued bytes ${c.t.bufferedAmount} stay near the high-water mark`);
    t.equal(hub.counters.dropped, 0, 'QoS 1 never drops');
    c.t.stalled = false;
    c.t.bufferedAmount = 0; // the socket drained; the hub's next tick notices
    await received(c, 'jobs.b', 200);
    t.same(audit(offsets(c, 'jobs.b'), 1, 200), { lost: 0, duplicated: 0, outOfOrder: 0 });
    t.same(c.t.of('gap'), [], 'no discontinuity');
  },
);

t.test(
  'QoS 0: a congested connection drops, counts, and sends one drop notice when drained, even on a quiet channel',
  async (t) => {
    const { hub } = coreHub(t, {
      limits: { queueHighWaterBytes: 1_000, maxQueuedBytes: 1_000_000, slowConsumerTimeout: 60_000 },
    });
    const c = fakeClient(hub);
    await sub(c, 'ticks.a');
    c.t.stalled = true;
    for (let i = 0; i < 100; i++) await hub.publish('ticks.a', { pad: 'x'.repeat(50), i });
    const delivered = offsets(c, 'ticks.a');
    const missed = 100 - delivered.length;
    t.ok(missed > 0, `${missed} dropped`);
    t.equal(hub.counters.dropped, missed, 'hub counter');
    t.equal(conn(c).dropped, missed, 'connection counter');
    t.same(
      delivered,
      Array.from({ length: delivered.length }, (_, i) => i + 1),
      'what was sent is a prefix, in order',
    );
    t.same(c.t.of('drop'), [], 'no notice while congested');
    c.t.stalled = false;
    c.t.bufferedAmount = 0;
    const notice = await frame(c, (f) => f.op === 'drop', 'drop notice');
    t.same(notice, { op: 'drop', ch: 'ticks.a', n: missed });
    // The next message follows the drop notice and skips the dropped offsets (the client sees the gap).
    await hub.publish('ticks.a', { after: true });
    await received(c, 'ticks.a', 101);
    t.same(offsets(c, 'ticks.a').slice(-1), [101]);
    t.equal(c.t.of('drop').length, 1, 'one notice per drop episode');
  },
);

t.test('QoS 0: history still holds what was dropped, so the client can read it back', async (t) => {
  const { hub } = coreHub(t, {
    limits: { queueHighWaterBytes: 1_000, maxQueuedBytes: 1_000_000, slowConsumerTimeout: 60_000 },
  });
  const c = fakeClient(hub);
  await sub(c, 'ticks.b');
  c.t.stalled = true;
  for (let i = 0; i < 60; i++) await hub.publish('ticks.b', { pad: 'x'.repeat(50), i });
  const delivered = offsets(c, 'ticks.b');
  const last = delivered.at(-1)!;
  c.t.stalled = false;
  c.t.bufferedAmount = 0;
  await frame(c, (f) => f.op === 'drop', 'drop notice');
  c.send({
    op: 'hist',
    id: 900,
    ch: 'ticks.b',
    since: { offset: last, epoch: (await hub.position('ticks.b')).epoch },
    limit: 1_000,
  });
  const page = await c.reply(900);
  t.same(
    page.res.messages.map((m: any) => m.off),
    Array.from({ length: 60 - last }, (_, i) => last + 1 + i),
  );
  t.equal(page.res.complete, true);
});

t.test('a burst that pushes a connection past maxQueuedBytes closes it at once with 3002', async (t) => {
  const { hub } = coreHub(t, {
    history: { size: 1_000 },
    limits: { queueHighWaterBytes: 2_000, maxQueuedBytes: 4_000, slowConsumerTimeout: 60_000 },
  });
  for (let i = 0; i < 100; i++) await hub.publish('burst.a', { pad: 'x'.repeat(100), i });
  const c = fakeClient(hub);
  c.t.stalled = true;
  // A replay pauses at the high-water mark (big-catch-up.test.ts); a history reply of 100
  // messages (~12 KB) is one frame and goes over the hard cap at once.
  c.send({ op: 'hist', id: 7, ch: 'burst.a', limit: 100 });
  await c.reply(7);
  t.same(c.t.closedWith?.code, 3002);
  t.equal(c.t.discarded, true, 'its queue is discarded with the socket');
  t.equal(hub.counters.slowConsumerCloses, 1);
});
