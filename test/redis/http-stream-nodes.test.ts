// HTTP streaming without sticky sessions ([HS-5]): two nodes on the Redis engine behind the test's
// own round-robin proxy, which refuses WebSockets. The client falls back to HTTP streaming; its
// POSTs alternate between the node holding the stream and the other one, which forwards them on
// the broker. Every QoS 1 publish is stored exactly once and delivered in order; nothing is lost.
import t from 'tap';
import { connect, type Message } from '../../adapters/client-node.js';
import { once } from '../helpers/server.js';
import { startProxy } from '../helpers/proxy.js';
import { needRedis } from './helpers.js';
import { twoRedisNodes } from './two-nodes.js';

const hubOptions = {
  channels: [{ match: '>', clientPublish: true }],
  history: { size: 1_000, ttl: 600_000, recoveryCap: 1_000 },
};

/** Two Redis nodes behind the test's round-robin proxy (which refuses upgrades) and a client that fell back to HTTP streaming. */
async function behindProxy(t: Parameters<typeof twoRedisNodes>[0], prefix: string) {
  const { a, b } = await twoRedisNodes(t, prefix, hubOptions);
  const proxy = await startProxy(t, [a.port, b.port]);
  const c = connect(`ws://127.0.0.1:${proxy.port}/realtime`, {
    transports: ['websocket', 'http-stream'],
    reconnect: { minDelay: 20, maxDelay: 200 },
  });
  t.teardown(() => c.close());
  await once(c, 'connected');
  return { a, b, proxy, c };
}

if (!(await needRedis())) t.pass('skipped: Redis is not available');
else {
  t.test(
    'POSTs that land on the node without the stream are routed to it: 50 QoS 1 publishes arrive once each, in order',
    async (t) => {
      const { a, b, proxy, c } = await behindProxy(t, 'http-stream');
      t.equal(c.transport, 'http-stream', 'fell back after the proxy refused the upgrade');
      t.ok(proxy.refusedUpgrades >= 1);
      const got: Message[] = [];
      let all!: () => void;
      const done = new Promise<void>((resolve) => (all = resolve));
      await c.subscribe(
        'doc.1',
        (m) => {
          got.push(m);
          if (got.length === 50) all();
        },
        { qos: 1 },
      ).ready;
      const acks = await Promise.all(Array.from({ length: 50 }, (_, i) => c.publish('doc.1', { i }, { qos: 1 })));
      await done;
      t.same(
        got.map((m) => (m.data as { i: number }).i),
        Array.from({ length: 50 }, (_, i) => i),
        'in order, none lost, none twice',
      );
      t.same(
        acks.map((x) => x.offset).sort((x, y) => x - y),
        Array.from({ length: 50 }, (_, i) => i + 1),
        'each stored once',
      );
      const posts = proxy.log.filter((r) => r.method === 'POST');
      const stream = proxy.log.find((r) => r.method === 'GET' && r.path.includes('/stream'))!;
      t.ok(
        posts.some((p) => p.target !== stream.target),
        'some POSTs reached the node without the stream',
      );
      t.ok(
        posts.some((p) => p.target === stream.target),
        'and some the node with it',
      );
      t.equal(a.hub.connectionCount + b.hub.connectionCount, 1, 'one connection in the cluster');
    },
  );

  t.test(
    'a stream cut by the network reconnects through the proxy and recovers what was published meanwhile',
    async (t) => {
      const { a, b, proxy, c } = await behindProxy(t, 'http-stream-cut');
      const got: number[] = [];
      let waiter: { n: number; resolve: () => void } | undefined;
      await c.subscribe('feed.1', (m) => {
        got.push((m.data as { i: number }).i);
        if (waiter && got.length >= waiter.n) waiter.resolve();
      }).ready;
      const upTo = (n: number) =>
        new Promise<void>((resolve) => (got.length >= n ? resolve() : (waiter = { n, resolve })));
      await a.hub.publish('feed.1', { i: 0 });
      await upTo(1);
      const dropped = once(c, 'disconnected');
      proxy.cut();
      await dropped;
      for (let i = 1; i <= 5; i++) await b.hub.publish('feed.1', { i });
      await once(c, 'connected');
      await upTo(6);
      t.same(got, [0, 1, 2, 3, 4, 5], 'recovered from the last position, no gap, no repeat');
      t.equal(c.transport, 'http-stream');
    },
  );

  t.test(
    'bytes published on one node are stored in Redis, delivered on the other over the stream and replayed from history byte-identical',
    async (t) => {
      const { a, b } = await twoRedisNodes(t, 'http-stream-bin', hubOptions);
      const proxy = await startProxy(t, [a.port, b.port]);
      const c = connect(`ws://127.0.0.1:${proxy.port}/realtime`, {
        transports: ['http-stream'],
        reconnect: { minDelay: 20, maxDelay: 200 },
      });
      t.teardown(() => c.close());
      await once(c, 'connected');
      let got!: (m: Message) => void;
      const arrived = new Promise<Message>((r) => (got = r));
      await c.subscribe('bin.1', got, { qos: 1 }).ready;
      const bytes = Uint8Array.from({ length: 2048 }, (_, i) => (i * 13) & 0xff);
      await a.hub.publish('bin.1', bytes);
      await b.hub.publish('bin.1', { json: true });
      t.same(Array.from((await arrived).data as Uint8Array), Array.from(bytes), 'delivered byte-identical');
      const onB = await b.hub.history('bin.1');
      t.same(Array.from(onB.messages[0]?.data as Uint8Array), Array.from(bytes), 'history on the other node');
      t.same(onB.messages[1]?.data, { json: true }, 'JSON beside it unchanged');
      const viaClient = await c.history('bin.1');
      t.ok(viaClient.messages[0]?.data instanceof Uint8Array);
    },
  );
}
