// A live message that arrives out of order or not at all on a node ([BRIEF §4], last bullet;
// possible with a cluster bus) is detected by its offset and the gap is filled from the store.
import t from 'tap';
import { Switchyard } from '../../lib/hub.js';
import { MemoryStorage } from '../../lib/history-memory.js';
import { audit, fakeClient, ManualBus, offsets, received, sub } from './helpers.js';

function setup(t: { teardown(fn: () => unknown): void }): { hub: Switchyard; bus: ManualBus } {
  const bus = new ManualBus();
  const hub = new Switchyard({ closeTimeout: 10, engine: { storage: new MemoryStorage(), broker: bus } });
  t.teardown(() => hub.close());
  return { hub, bus };
}

for (const qos of [0, 1] as const) {
  t.test(`QoS ${qos}: a message overtaken on the bus is delivered in offset order, once`, async (t) => {
    const { hub, bus } = setup(t);
    const c = fakeClient(hub);
    await sub(c, 'bus.a', qos ? { qos } : {});
    await hub.publish('bus.a', 1);
    bus.mode = 'hold';
    await hub.publish('bus.a', 2); // stored, still on the bus
    bus.mode = 'pass';
    await hub.publish('bus.a', 3); // overtakes 2: the jump from 1 to 3 triggers a read of the store
    await received(c, 'bus.a', 3);
    bus.release(); // the late 2 is recognized as already sent
    await hub.publish('bus.a', 4);
    await received(c, 'bus.a', 4);
    t.same(offsets(c, 'bus.a'), [1, 2, 3, 4]);
  });

  t.test(`QoS ${qos}: a message lost on the bus is filled from the store when the next one arrives`, async (t) => {
    const { hub, bus } = setup(t);
    const c = fakeClient(hub);
    await sub(c, 'bus.b', qos ? { qos } : {});
    bus.mode = 'drop';
    for (let i = 0; i < 5; i++) await hub.publish('bus.b', i);
    bus.mode = 'pass';
    await hub.publish('bus.b', 'next');
    await received(c, 'bus.b', 6);
    t.same(audit(offsets(c, 'bus.b'), 1, 6), { lost: 0, duplicated: 0, outOfOrder: 0 });
  });
}

t.test(
  'after a bus interruption a quiet channel re-checks the store, so a lost last message still arrives',
  async (t) => {
    const { hub, bus } = setup(t);
    const c = fakeClient(hub);
    await sub(c, 'bus.c');
    bus.mode = 'drop';
    await hub.publish('bus.c', 'lost on the bus');
    t.same(offsets(c, 'bus.c'), []);
    bus.sink!.interrupted(); // what a broker reports once its connection is back
    await received(c, 'bus.c', 1);
    t.same(offsets(c, 'bus.c'), [1]);
  },
);
