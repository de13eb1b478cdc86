// QoS 1 publish (issue 3 item 5): the server acknowledges only after the store has the message;
// a retry with the same message id inside the de-duplication window (default 2 minutes) returns
// the original offset and stores nothing twice; the SDK retries across reconnects from a bounded
// offline queue.
import t from 'tap';
import { memoryEngine } from '../../lib/engine-memory.js';
import type { Engine } from '../../lib/engine.js';
import { connect, type Client } from '../../adapters/client-node.js';
import { connectClient, once, startServer } from '../helpers/server.js';
import { coreHub, fakeClient, ManualClock } from './helpers.js';
import { clientSocket } from '../helpers/client-socket.js';

const channels = [{ match: 'chat.*', clientPublish: true }];

/**
 * An engine whose first append of each idempotency key kills the client's socket right after
 * the message is stored: the server's ack is written to a connection the client already lost.
 */
function ackDroppingEngine(victim: () => Client | undefined): Engine & { kills: number } {
  const inner = memoryEngine();
  const seen = new Set<string>();
  const engine = {
    kills: 0,
    broker: inner.broker,
    storage: {
      append: async (ch: string, payload: string, o: any) => {
        const res = await inner.storage.append(ch, payload, o);
        if (o.idempotencyKey !== undefined && !seen.has(o.idempotencyKey)) {
          seen.add(o.idempotencyKey);
          const client = victim();
          const sock = client ? clientSocket(client)._socket : undefined;
          if (sock) {
            sock.destroy();
            engine.kills++;
          }
        }
        return res;
      },
      read: (ch: string, a: number, l: number) => inner.storage.read(ch, a, l),
      state: (ch: string) => inner.storage.state(ch),
      close: () => inner.storage.close(),
    },
  };
  return engine;
}

t.test(
  'QoS 1 publish whose ack is lost every time: the SDK retries and each message is stored exactly once',
  async (t) => {
    let client: Client | undefined;
    const engine = ackDroppingEngine(() => client);
    const { hub, url } = await startServer(t, { engine, channels });
    client = await connectClient(t, url);
    const results = [];
    for (let i = 0; i < 10; i++) results.push(await client.publish('chat.a', { i }, { qos: 1 }));
    t.equal(engine.kills, 10, 'every first ack was lost');
    t.same(
      results.map((r) => r.offset),
      [1, 2, 3, 4, 5, 6, 7, 8, 9, 10],
      'each retry answered with the original offset',
    );
    t.ok(
      results.every((r) => r.duplicate === true),
      'each answer came from the de-duplication',
    );
    const page = await hub.history('chat.a', { limit: 100 });
    t.same(
      page.messages.map((m) => m.data),
      Array.from({ length: 10 }, (_, i) => ({ i })),
      'stored once each, in order',
    );
  },
);

t.test(
  'concurrent QoS 1 publishes whose acks are lost: stored exactly once each, offsets match the store',
  async (t) => {
    let client: Client | undefined;
    const engine = ackDroppingEngine(() => client);
    const { hub, url } = await startServer(t, { engine, channels });
    client = await connectClient(t, url);
    const results = await Promise.all(
      Array.from({ length: 40 }, (_, i) => client!.publish('chat.b', { i }, { qos: 1 })),
    );
    t.ok(engine.kills >= 1, `${engine.kills} connections killed after a store`);
    const page = await hub.history('chat.b', { limit: 100 });
    t.equal(page.messages.length, 40, 'nothing stored twice');
    const byI = new Map(page.messages.map((m) => [(m.data as { i: number }).i, m.offset]));
    t.equal(byI.size, 40, 'every message stored');
    t.same(
      results.map((r, i) => r.offset === byI.get(i)),
      Array(40).fill(true),
      'each publish resolved with its stored offset',
    );
  },
);

t.test('the de-duplication window is 2 minutes by default, on a monotonic clock', async (t) => {
  const clock = new ManualClock();
  const { hub } = coreHub(t, { channels }, clock);
  const first = await hub.publish('chat.w', { v: 1 }, { idempotencyKey: 'k1' });
  clock.advance(119_999);
  const retry = await hub.publish('chat.w', { v: 1 }, { idempotencyKey: 'k1' });
  t.same(retry, { offset: first.offset, epoch: first.epoch, duplicate: true }, 'retry at 119.999 s is a duplicate');
  t.equal((await hub.position('chat.w')).offset, 1, 'nothing stored twice');
  clock.advance(2);
  const late = await hub.publish('chat.w', { v: 1 }, { idempotencyKey: 'k1' });
  t.equal(late.offset, 2, 'after the window the key is forgotten and the message is new');
  t.notOk(late.duplicate);
});

t.test(
  'a client message id is scoped to its channel, and a pub frame retry answers with the first offset',
  async (t) => {
    const { hub } = coreHub(t, { channels });
    const c = fakeClient(hub);
    c.send({ op: 'pub', id: 1, ch: 'chat.m', data: 'a', mid: 'm-1' });
    const a = await c.reply(1);
    c.send({ op: 'pub', id: 2, ch: 'chat.m', data: 'a', mid: 'm-1' });
    const b = await c.reply(2);
    c.send({ op: 'pub', id: 3, ch: 'chat.n', data: 'a', mid: 'm-1' });
    const other = await c.reply(3);
    t.same(a.res, { offset: 1, epoch: a.res.epoch });
    t.same(b.res, { offset: 1, epoch: a.res.epoch, duplicate: true });
    t.equal(other.res.offset, 1, 'same id on another channel is another message');
    t.notOk(other.res.duplicate);
    t.equal((await hub.history('chat.m')).messages.length, 1);
  },
);

t.test(
  'the server acknowledges only after the store has the message; a store failure is an error, not an ack',
  async (t) => {
    const inner = memoryEngine();
    let fail = true;
    const engine: Engine = {
      broker: inner.broker,
      storage: {
        append: async (ch, p, o) => {
          if (fail) throw new Error('disk on fire');
          return inner.storage.append(ch, p, o);
        },
        read: (ch, a, l) => inner.storage.read(ch, a, l),
        state: (ch) => inner.storage.state(ch),
        close: () => inner.storage.close(),
      },
    };
    const { hub } = coreHub(t, { channels, engine });
    const c = fakeClient(hub);
    c.send({ op: 'pub', id: 1, ch: 'chat.f', data: 'x', mid: 'f-1' });
    const err = await c.reply(1);
    t.equal(err.op, 'err');
    t.equal(err.code, 201, 'ENGINE_UNAVAILABLE: the client retries');
    fail = false;
    c.send({ op: 'pub', id: 2, ch: 'chat.f', data: 'x', mid: 'f-1' });
    t.same((await c.reply(2)).res.offset, 1);
  },
);

t.test('the SDK retries a QoS 1 publish the store refused (201) with the same id; stored once', async (t) => {
  const inner = memoryEngine();
  let failures = 2;
  const engine: Engine = {
    broker: inner.broker,
    storage: {
      append: async (ch, p, o) => {
        if (failures > 0) {
          failures--;
          throw new Error('backend blip');
        }
        return inner.storage.append(ch, p, o);
      },
      read: (ch, a, l) => inner.storage.read(ch, a, l),
      state: (ch) => inner.storage.state(ch),
      close: () => inner.storage.close(),
    },
  };
  const { hub, url } = await startServer(t, { engine, channels });
  const client = await connectClient(t, url);
  const res = await client.publish('chat.r', { once: true }, { qos: 1 });
  t.equal(failures, 0, 'two refusals were retried');
  t.equal(res.offset, 1);
  t.same(
    (await hub.history('chat.r')).messages.map((m) => m.data),
    [{ once: true }],
  );
});

t.test(
  'offline queue: QoS 1 publishes wait while disconnected; beyond offlineQueue the publish rejects at once',
  async (t) => {
    const { hub, url } = await startServer(t, { channels });
    const client = connect(url, { offlineQueue: 3, reconnect: { minDelay: 20, maxDelay: 200 } });
    t.teardown(() => client.close());
    t.equal(client.state, 'connecting');
    const queued = [0, 1, 2].map((i) => client.publish('chat.q', { i }, { qos: 1 }));
    await t.rejects(client.publish('chat.q', { i: 3 }, { qos: 1 }), {
      code: 0,
      message: /offline queue full \(3 publishes waiting\)/,
    });
    await once(client, 'connected');
    t.same(
      (await Promise.all(queued)).map((r) => r.offset),
      [1, 2, 3],
      'the queued ones are sent once connected, in order',
    );
    t.same(
      (await hub.history('chat.q')).messages.map((m) => m.data),
      [{ i: 0 }, { i: 1 }, { i: 2 }],
    );
  },
);

t.test('a QoS 1 publish that cannot be delivered within publishTimeout rejects', async (t) => {
  // Nothing listens on this port: the client keeps retrying the connection until the publish expires.
  const client = connect('ws://127.0.0.1:9/realtime', {
    publishTimeout: 300,
    reconnect: { minDelay: 20, maxDelay: 50 },
  });
  t.teardown(() => client.close());
  const p = client.publish('chat.z', 1, { qos: 1 });
  await once(client, 'disconnected');
  await t.rejects(p, { message: /QoS 1 publish timed out|client closed/ });
});
