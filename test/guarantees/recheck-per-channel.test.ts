// After a bus interruption every exact subscription is re-checked against the store once per
// channel, not once per subscription (issue 9 item 7): 200 subscriptions on 10 channels cost
// 20 store calls, and every subscription still gets exactly what it missed.
import t from 'tap';
import { Switchyard } from '../../lib/hub.js';
import { MemoryStorage } from '../../lib/history-memory.js';
import { audit, fakeClient, frame, ManualBus, offsets, received } from './helpers.js';

/** The memory store, counting every call the hub makes to it. */
class CountingStorage extends MemoryStorage {
  calls = 0;
  override async read(...a: Parameters<MemoryStorage['read']>) {
    this.calls++;
    return super.read(...a);
  }
  override async state(...a: Parameters<MemoryStorage['state']>) {
    this.calls++;
    return super.state(...a);
  }
}

function setup(t: { teardown(fn: () => unknown): void }) {
  const bus = new ManualBus();
  const storage = new CountingStorage();
  const hub = new Switchyard({ closeTimeout: 10, engine: { storage, broker: bus } });
  t.teardown(() => hub.close());
  return { hub, bus, storage };
}

t.test(
  '200 subscriptions on 10 channels: the re-check after a bus interruption costs 2 store calls per channel and delivers what each missed',
  async (t) => {
    const { hub, bus, storage } = setup(t);
    const clients = Array.from({ length: 20 }, () => fakeClient(hub));
    const channels = Array.from({ length: 10 }, (_, i) => `rc.ch${i}`);
    for (const c of clients) await c.subscribe(...channels);
    for (const ch of channels) await hub.publish(ch, 'first');
    await Promise.all(clients.flatMap((c) => channels.map((ch) => received(c, ch, 1))));
    bus.mode = 'drop';
    for (const ch of channels) for (let i = 0; i < 3; i++) await hub.publish(ch, { i }); // 2..4 lost on the bus
    bus.mode = 'pass';
    storage.calls = 0;
    bus.sink!.interrupted();
    await Promise.all(clients.flatMap((c) => channels.map((ch) => received(c, ch, 4))));
    t.ok(storage.calls <= 2 * channels.length, `${storage.calls} store calls for 200 subscriptions on 10 channels`);
    for (const c of clients)
      for (const ch of channels) t.same(audit(offsets(c, ch), 1, 4), { lost: 0, duplicated: 0, outOfOrder: 0 });
    t.equal(
      clients.reduce((n, c) => n + c.t.of('msg').length, 0),
      20 * 10 * 4,
      'each message once per subscription',
    );
  },
);

t.test('a quiet re-check (nothing missed) reads each channel once and sends nothing', async (t) => {
  const { hub, bus, storage } = setup(t);
  const clients = Array.from({ length: 10 }, () => fakeClient(hub));
  for (const c of clients) await c.subscribe('rc.quiet');
  await hub.publish('rc.quiet', 1);
  await Promise.all(clients.map((c) => received(c, 'rc.quiet', 1)));
  storage.calls = 0;
  bus.sink!.interrupted();
  await new Promise((r) => setTimeout(r, 20));
  t.equal(storage.calls, 1, 'one state call for the channel');
  t.ok(
    clients.every((c) => c.t.of('msg').length === 1),
    'nothing sent twice',
  );
});

t.test(
  'a reset found by the re-check: one gap with reason reset per subscription, then the new epoch from offset 1, with 2 store calls',
  async (t) => {
    const { hub, bus, storage } = setup(t);
    const clients = Array.from({ length: 10 }, () => fakeClient(hub));
    for (const [i, c] of clients.entries()) {
      const id = 500 + i;
      c.send({ op: 'sub', id, ch: 'rc.reset', ...(i % 2 ? { qos: 1 } : {}) });
      await c.reply(id);
    }
    await hub.publish('rc.reset', 'old');
    await Promise.all(clients.map((c) => received(c, 'rc.reset', 1)));
    bus.mode = 'drop';
    storage.evict('rc.reset');
    let fresh;
    for (let i = 1; i <= 3; i++) fresh = await hub.publish('rc.reset', i);
    bus.mode = 'pass';
    storage.calls = 0;
    bus.sink!.interrupted();
    await Promise.all(
      clients.map((c) =>
        frame(c, (f) => f.op === 'msg' && f.ep === fresh!.epoch && f.off === 3, 'msg 3 of the new epoch'),
      ),
    );
    t.equal(storage.calls, 2);
    for (const c of clients) {
      t.same(c.t.of('gap'), [
        { op: 'gap', ch: 'rc.reset', position: { offset: 0, epoch: fresh!.epoch }, reason: 'reset' },
      ]);
      t.same(
        c.t
          .of('msg')
          .filter((f) => f.ep === fresh!.epoch)
          .map((f) => f.off),
        [1, 2, 3],
      );
    }
  },
);
