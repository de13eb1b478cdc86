// The recovery decision table ([BRIEF §4], issue 3 item 3): for each way a resume position can
// relate to the stored stream, the subscribe result's `recovered` flag, its position, and the
// exact offsets replayed before live delivery resumes. `recovered: false` never replays.
import t from 'tap';
import { coreHub, fakeClient, offsets, received, sub, type Fake } from './helpers.js';

const opts = {
  history: { size: 100, ttl: 300_000, recoveryCap: 1_000 },
  channels: [
    { match: 'trim.*', history: { size: 5 } },
    { match: 'ttl.*', history: { size: 100, ttl: 1_000 } },
    { match: 'cap.*', history: { size: 100, recoveryCap: 3 } },
  ],
};

async function publishN(
  hub: { publish(ch: string, d: unknown): Promise<{ offset: number; epoch: string }> },
  ch: string,
  n: number,
): Promise<string> {
  let epoch = '';
  for (let i = 0; i < n; i++) epoch = (await hub.publish(ch, { i })).epoch;
  return epoch;
}

/**
 * Subscribes with `since`, then publishes one marker message and waits for it: everything the
 * client received between the reply and the marker is the replay.
 */
async function resume(
  hub: any,
  c: Fake,
  ch: string,
  since: unknown,
  qos = 0,
): Promise<{ res: any; replayed: number[] }> {
  const reply = await sub(c, ch, { since, ...(qos ? { qos } : {}) });
  const from = c.t.frames.indexOf(reply);
  const marker = await hub.publish(ch, { marker: true });
  await received(c, ch, marker.offset);
  const all = offsets(c, ch, from);
  if (all.at(-1) !== marker.offset) throw new Error(`marker not last: ${all}`);
  return { res: reply.res, replayed: all.slice(0, -1) };
}

t.test('decision table', async (t) => {
  const rows: Array<{ name: string; run: (t: any) => Promise<void> }> = [
    {
      name: 'empty stream, resuming from offset 0 of its epoch: recovered with nothing to replay',
      run: async (t) => {
        const { hub } = coreHub(t, opts);
        const pos = await hub.position('room.empty');
        t.same(pos.offset, 0);
        const { res, replayed } = await resume(hub, fakeClient(hub), 'room.empty', pos);
        t.same(res, { recovered: true, position: { offset: 0, epoch: pos.epoch } });
        t.same(replayed, []);
      },
    },
    {
      name: 'empty stream, first subscribe without since: not recovered, position 0 to resume from later',
      run: async (t) => {
        const { hub } = coreHub(t, opts);
        const c = fakeClient(hub);
        const reply = await sub(c, 'room.fresh');
        t.equal(reply.res.recovered, false);
        t.equal(reply.res.position.offset, 0);
        t.equal(reply.res.position.epoch, (await hub.position('room.fresh')).epoch);
        t.same(offsets(c, 'room.fresh'), []);
      },
    },
    {
      name: 'resume from a retained position: recovered, replays exactly the missed offsets',
      run: async (t) => {
        const { hub } = coreHub(t, opts);
        const epoch = await publishN(hub, 'room.a', 10);
        const { res, replayed } = await resume(hub, fakeClient(hub), 'room.a', { offset: 4, epoch });
        t.same(res, { recovered: true, position: { offset: 10, epoch } });
        t.same(replayed, [5, 6, 7, 8, 9, 10]);
      },
    },
    {
      name: 'same position (nothing missed): recovered, empty replay',
      run: async (t) => {
        const { hub } = coreHub(t, opts);
        const epoch = await publishN(hub, 'room.b', 10);
        const { res, replayed } = await resume(hub, fakeClient(hub), 'room.b', { offset: 10, epoch });
        t.same(res, { recovered: true, position: { offset: 10, epoch } });
        t.same(replayed, []);
      },
    },
    {
      name: 'position trimmed away by size: not recovered, no replay',
      run: async (t) => {
        const { hub } = coreHub(t, opts);
        const epoch = await publishN(hub, 'trim.a', 10); // keeps 6..10
        const { res, replayed } = await resume(hub, fakeClient(hub), 'trim.a', { offset: 4, epoch });
        t.same(res, { recovered: false, reason: 'trimmed', position: { offset: 10, epoch } });
        t.same(replayed, []);
      },
    },
    {
      name: 'position just before the oldest retained message: recovered, replays all retained',
      run: async (t) => {
        const { hub } = coreHub(t, opts);
        const epoch = await publishN(hub, 'trim.b', 10);
        const { res, replayed } = await resume(hub, fakeClient(hub), 'trim.b', { offset: 5, epoch });
        t.equal(res.recovered, true);
        t.same(replayed, [6, 7, 8, 9, 10]);
      },
    },
    {
      name: 'position in the future: not recovered, no replay',
      run: async (t) => {
        const { hub } = coreHub(t, opts);
        const epoch = await publishN(hub, 'room.c', 10);
        const { res, replayed } = await resume(hub, fakeClient(hub), 'room.c', { offset: 11, epoch });
        t.same(res, { recovered: false, reason: 'reset', position: { offset: 10, epoch } });
        t.same(replayed, []);
      },
    },
    {
      name: 'wrong epoch: not recovered (reset), the current epoch is replayed from its start',
      run: async (t) => {
        const { hub } = coreHub(t, opts);
        const epoch = await publishN(hub, 'room.d', 10);
        const { res, replayed } = await resume(hub, fakeClient(hub), 'room.d', { offset: 4, epoch: 'feedfacecafe' });
        t.same(res, { recovered: false, reason: 'reset', position: { offset: 0, epoch } });
        t.same(replayed, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
      },
    },
    {
      name: 'channel evicted from the store: comes back with a new epoch, old position not recovered',
      run: async (t) => {
        const { hub, engine } = coreHub(t, opts);
        const old = await publishN(hub, 'room.e', 3);
        engine.storage.evict('room.e');
        const fresh = await hub.position('room.e');
        t.not(fresh.epoch, old);
        const { res, replayed } = await resume(hub, fakeClient(hub), 'room.e', { offset: 3, epoch: old });
        t.same(res, { recovered: false, reason: 'reset', position: { offset: 0, epoch: fresh.epoch } });
        t.same(replayed, []);
      },
    },
    {
      name: 'expired by age: everything older than the TTL is gone, so an older position is not recovered',
      run: async (t) => {
        const { hub, clock } = coreHub(t, opts);
        const epoch = await publishN(hub, 'ttl.a', 10);
        clock.advance(1_000);
        const { res, replayed } = await resume(hub, fakeClient(hub), 'ttl.a', { offset: 4, epoch });
        t.same(res, { recovered: false, reason: 'trimmed', position: { offset: 10, epoch } });
        t.same(replayed, []);
      },
    },
    {
      name: 'partly expired by age: a position at the expiry boundary recovers only the unexpired messages',
      run: async (t) => {
        const { hub, clock } = coreHub(t, opts);
        await publishN(hub, 'ttl.b', 5);
        clock.advance(600);
        const epoch = await publishN(hub, 'ttl.b', 5);
        clock.advance(400); // 1..5 are now 1000 ms old (expired), 6..10 are 400 ms old
        const c = fakeClient(hub);
        const ok = await resume(hub, c, 'ttl.b', { offset: 5, epoch });
        t.same(ok.res, { recovered: true, position: { offset: 10, epoch } });
        t.same(ok.replayed, [6, 7, 8, 9, 10]);
        const late = await resume(hub, fakeClient(hub), 'ttl.b', { offset: 4, epoch });
        t.equal(late.res.recovered, false);
        t.same(late.replayed, []);
      },
    },
    {
      name: 'expired by age with nothing missed: the same position still recovers',
      run: async (t) => {
        const { hub, clock } = coreHub(t, opts);
        const epoch = await publishN(hub, 'ttl.c', 3);
        clock.advance(5_000);
        const { res, replayed } = await resume(hub, fakeClient(hub), 'ttl.c', { offset: 3, epoch });
        t.same(res, { recovered: true, position: { offset: 3, epoch } });
        t.same(replayed, []);
      },
    },
    {
      name: 'more missed than the recovery cap: not recovered, no replay',
      run: async (t) => {
        const { hub } = coreHub(t, opts);
        const epoch = await publishN(hub, 'cap.a', 10);
        const { res, replayed } = await resume(hub, fakeClient(hub), 'cap.a', { offset: 6, epoch }); // 4 missed > cap 3
        t.same(res, { recovered: false, reason: 'cap', position: { offset: 10, epoch } });
        t.same(replayed, []);
      },
    },
    {
      name: 'exactly the recovery cap missed: recovered, replays all of them',
      run: async (t) => {
        const { hub } = coreHub(t, opts);
        const epoch = await publishN(hub, 'cap.b', 10);
        const { res, replayed } = await resume(hub, fakeClient(hub), 'cap.b', { offset: 7, epoch });
        t.same(res, { recovered: true, position: { offset: 10, epoch } });
        t.same(replayed, [8, 9, 10]);
      },
    },
  ];
  for (const row of rows) await t.test(row.name, row.run);
});

t.test('recovered: false never comes with a replay, for every position of a stream (QoS 0 and 1)', async (t) => {
  const { hub } = coreHub(t, opts);
  const epoch = await publishN(hub, 'trim.sweep', 12); // keeps 8..12
  for (const qos of [0, 1]) {
    for (let since = 0; since <= 14; since++) {
      for (const ep of [epoch, 'feedfacecafe']) {
        const { res, replayed } = await resume(hub, fakeClient(hub), 'trim.sweep', { offset: since, epoch: ep }, qos);
        // The marker raises the head each round; derive the expectation from the reply's position.
        const head = res.position.offset;
        const expectRecovered = ep === epoch && since <= head && since >= head - 5;
        t.equal(res.recovered, expectRecovered, `qos ${qos} since ${since} epoch ${ep === epoch ? 'same' : 'other'}`);
        // Another epoch is a reset: the reply's position is just before the oldest retained
        // message and everything retained is replayed; otherwise recovered: false replays nothing.
        const expected = expectRecovered ? Array.from({ length: head - since }, (_, i) => since + 1 + i) : [];
        if (ep !== epoch) {
          t.equal(
            res.position.offset,
            (await hub.position('trim.sweep')).offset - 6,
            'reset: position before the oldest retained',
          );
          t.same(
            replayed,
            [1, 2, 3, 4, 5].map((i) => head + i),
          );
        } else t.same(replayed, expected);
      }
    }
  }
});
