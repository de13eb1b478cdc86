// The client SDK over real sockets: subscribe/publish, wildcard routing, reconnect and
// resubscribe, terminal close codes, heartbeats both ways, graceful shutdown.
import t from 'tap';
import WebSocket, { WebSocketServer } from 'ws';
import type { AddressInfo } from 'node:net';
import { connect, type Message } from '../../adapters/client-node.js';
import { connectClient, once, startServer } from '../helpers/server.js';

const open = { channels: [{ match: '>', clientPublish: true }] };

/** Collects messages and resolves `wait(n)` once n have arrived. */
function collector<T = unknown>() {
  const got: Message<T>[] = [];
  let waiter: { n: number; resolve: () => void } | undefined;
  return {
    got,
    handler: (m: Message<T>) => {
      got.push(m);
      if (waiter && got.length >= waiter.n) waiter.resolve();
    },
    wait: (n: number) =>
      got.length >= n ? Promise.resolve() : new Promise<void>((resolve) => (waiter = { n, resolve })),
  };
}

t.test('a client publish reaches subscribers of the channel, a "*" pattern and a ">" pattern', async (t) => {
  const s = await startServer(t, open);
  const pub = await connectClient(t, s.url);
  const sub = await connectClient(t, s.url);
  const exact = collector();
  const star = collector();
  const rest = collector();
  await Promise.all([
    sub.subscribe('chat.room1', exact.handler).ready,
    sub.subscribe('chat.*', star.handler).ready,
    sub.subscribe('chat.>', rest.handler).ready,
  ]);
  const ack = await pub.publish('chat.room1', { text: 'hi' });
  t.equal(ack.offset, 1);
  await pub.publish('chat.room1.thread', { text: 'deep' });
  await Promise.all([exact.wait(1), star.wait(1), rest.wait(2)]);
  t.same(
    exact.got.map((m) => m.data),
    [{ text: 'hi' }],
  );
  t.same(
    star.got.map((m) => m.channel),
    ['chat.room1'],
  );
  t.same(
    rest.got.map((m) => m.channel),
    ['chat.room1', 'chat.room1.thread'],
  );
  t.equal(exact.got[0]!.epoch, ack.epoch);
});

t.test('hub.publish resolves with the position and fans out to every subscriber', async (t) => {
  const s = await startServer(t);
  const subs = await Promise.all([1, 2, 3].map(() => connectClient(t, s.url)));
  const cols = subs.map(() => collector());
  await Promise.all(subs.map((c, i) => c.subscribe('news', cols[i]!.handler).ready));
  const r1 = await s.hub.publish('news', 'a');
  const r2 = await s.hub.publish('news', 'b');
  t.same([r1.offset, r2.offset], [1, 2]);
  await Promise.all(cols.map((c) => c.wait(2)));
  for (const c of cols)
    t.same(
      c.got.map((m) => [m.offset, m.data]),
      [
        [1, 'a'],
        [2, 'b'],
      ],
    );
});

t.test('errors reject with the registry code: publish disabled, bad channel', async (t) => {
  const s = await startServer(t);
  const c = await connectClient(t, s.url);
  await t.rejects(c.publish('news', 1), { code: 108 });
  await t.rejects(c.publish('bad channel', 1), { code: 103 });
  const sub = c.subscribe('a..b', () => {});
  await t.rejects(sub.ready, { code: 103 });
  t.equal(sub.active, false);
});

t.test('after a reconnectable close the client reconnects, resubscribes and receives again', async (t) => {
  const s = await startServer(t);
  const c = await connectClient(t, s.url);
  const col = collector();
  await c.subscribe('live', col.handler).ready;
  const ids: string[] = [];
  s.hub.on('connection', (x) => ids.push(x.id));
  const first = [...(s.hub as any).conns.keys()][0] as string;
  const disconnected = once<{ code: number; willReconnect: boolean }>(c, 'disconnected');
  s.hub.disconnect(first, 4003, 'please reconnect');
  const d = await disconnected;
  t.same([d.code, d.willReconnect], [4003, true]);
  await once(c, 'connected');
  await s.hub.publish('live', 'after reconnect');
  await col.wait(1);
  t.equal(col.got[0]!.data, 'after reconnect');
  t.equal(ids.length, 1, 'one new connection');
});

t.test('a terminal close code stops the client and says why', async (t) => {
  const s = await startServer(t);
  const c = await connectClient(t, s.url);
  const id = [...(s.hub as any).conns.keys()][0] as string;
  const closed = once<{ code: number; reason: string }>(c, 'closed');
  s.hub.disconnect(id, 4500, 'go away');
  t.same(await closed, { code: 4500, reason: 'go away' });
  t.equal(c.state, 'closed');
  await t.rejects(c.publish('x', 1), /not connected|closed/);
});

t.test('the server terminates a peer that stops answering heartbeats', async (t) => {
  const s = await startServer(t, { heartbeatInterval: 50 });
  // A raw socket that never answers pings.
  const ws = new WebSocket(s.url, ['switchyard.v1']);
  t.teardown(() => ws.terminate());
  const gone = once<{ code: number }>(s.hub, 'disconnect');
  const closed = new Promise<number>((resolve) => ws.on('close', (code) => resolve(code)));
  t.equal((await gone).code, 3001);
  t.equal(await closed, 1006, 'terminated without a handshake');
});

t.test('a client that hears nothing from the server reconnects', async (t) => {
  // A fake server that welcomes with a 50 ms heartbeat, then falls silent.
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, handleProtocols: () => 'switchyard.v1' });
  t.teardown(() => new Promise((r) => wss.close(r)));
  await once(wss, 'listening');
  let connections = 0;
  const second = new Promise<void>((resolve) =>
    wss.on('connection', (ws) => {
      ws.send(JSON.stringify({ op: 'welcome', v: 1, cid: 'x', hb: 50 }));
      if (++connections === 2) resolve();
    }),
  );
  const c = connect(`ws://127.0.0.1:${(wss.address() as AddressInfo).port}/`, {
    reconnect: { minDelay: 10, maxDelay: 20 },
  });
  t.teardown(() => c.close());
  const d = await once<{ code: number; willReconnect: boolean }>(c, 'disconnected');
  t.same([d.code, d.willReconnect], [3001, true]);
  await second;
  t.equal(connections, 2);
  for (const ws of wss.clients) ws.terminate();
});

t.test('hub.close() sends 1001 to clients, and the http server can close', async (t) => {
  const s = await startServer(t);
  const c = connect(s.url, { reconnect: false });
  t.teardown(() => c.close());
  await once(c, 'connected');
  const closed = once<{ code: number }>(c, 'closed');
  await s.hub.close();
  t.equal((await closed).code, 1001);
  await new Promise<void>((resolve) => s.server.close(() => resolve()));
  t.pass('server closed');
});

t.test('hub.close() terminates clients that ignore the close handshake after closeTimeout', async (t) => {
  const s = await startServer(t, { closeTimeout: 100 });
  const ws = new WebSocket(s.url, ['switchyard.v1']);
  t.teardown(() => ws.terminate());
  await once(ws, 'open');
  // Stop reading: the client never answers the close frame.
  (ws as any)._socket.pause();
  const started = Date.now();
  await s.hub.close();
  t.ok(Date.now() - started < 3_000, 'bounded wait');
  t.equal(s.hub.connectionCount, 0);
  await new Promise<void>((resolve) => s.server.close(() => resolve()));
});

t.test('new upgrades are refused with 503 while the hub is closing', async (t) => {
  const s = await startServer(t);
  await s.hub.close();
  const status = await new Promise<number>((resolve) => {
    const ws = new WebSocket(s.url, ['switchyard.v1']);
    ws.on('unexpected-response', (_q, res) => resolve(res.statusCode ?? 0));
    ws.on('error', () => {});
  });
  t.equal(status, 503);
});

t.test('the client validates its options', async (t) => {
  t.throws(() => connect('http://x'), /ws:\/\/ or wss:\/\//);
  t.throws(() => connect('ws://127.0.0.1:1/', { timeout: -1, reconnect: false }), /timeout must be a positive integer/);
  t.throws(() => connect('ws://127.0.0.1:1/', { token: 5 as never, reconnect: false }), /token must be/);
});

t.test('with several URLs the client moves to the next node when its node shuts down', async (t) => {
  const a = await startServer(t);
  const b = await startServer(t);
  const c = connect([a.url, b.url], { reconnect: { minDelay: 10, maxDelay: 50 } });
  t.teardown(() => c.close());
  await once(c, 'connected');
  t.equal(c.url, a.url);
  t.equal(a.hub.connectionCount, 1);
  const col = collector();
  const sub = c.subscribe('news', col.handler);
  await sub.ready;
  const moved = once(c, 'connected');
  // Two separate memory engines here, so b cannot recover a's stream: the resubscribe on b
  // answers recovered: false (a shared Redis engine would recover; see test/redis/cluster.test.ts).
  const resubscribed = once<{ recovered: boolean }>(sub, 'subscribed');
  await a.hub.close();
  await moved;
  t.equal(c.url, b.url);
  t.equal(b.hub.connectionCount, 1);
  t.equal((await resubscribed).recovered, false);
  await b.hub.publish('news', 'from b');
  await col.wait(1);
  t.equal(col.got[0]!.data, 'from b');
  t.throws(() => connect([]), /non-empty array/);
  t.throws(() => connect(['ws://ok', 'http://bad']), /ws:\/\/ or wss:\/\//);
});

t.test('QoS 1 acks go out at half the announced in-flight window, so a keeping-up client never stalls', async (t) => {
  const s = await startServer(t, { limits: { inflightWindow: 8 } });
  const acks: number[] = [];
  // Records the ack frames the SDK sends, on a real ws socket.
  class SpyWebSocket extends WebSocket {
    override send(data: any, ...rest: any[]): void {
      const f = JSON.parse(String(data));
      if (f.op === 'ack') acks.push(f.off);
      (super.send as any)(data, ...rest);
    }
  }
  const c = connect(s.url, { WebSocket: SpyWebSocket as any, reconnect: false });
  t.teardown(() => c.close());
  await once(c, 'connected');
  const col = collector();
  await c.subscribe('q', col.handler, { qos: 1 }).ready;
  await Promise.all(Array.from({ length: 64 }, (_, i) => s.hub.publish('q', i)));
  await col.wait(64);
  t.same(
    col.got.map((m) => m.offset),
    Array.from({ length: 64 }, (_, i) => i + 1),
  );
  const steps = acks.map((a, i) => a - (i ? acks[i - 1] : 0)!);
  t.ok(Math.max(...steps) <= 4, `no ack covers more than half the window (steps ${steps.join(',')})`);
});

t.test(
  'a QoS 0 publish, history or presence read made right after connect() waits for the connection instead of failing',
  async (t) => {
    const s = await startServer(t, { channels: [{ match: '>', clientPublish: true, presence: true }] });
    const c = connect(s.url);
    t.teardown(() => c.close());
    t.equal(c.state, 'connecting');
    const published = c.publish('early', { n: 1 });
    const history = c.history('early');
    const presence = c.presence('early');
    t.match(await published, { offset: 1 });
    t.match(await history, { messages: [{ off: 1, data: { n: 1 } }] });
    t.same((await presence).members, []);
  },
);

t.test(
  'calls waiting for a connection are bounded: offlineQueue of them, timeout ms each, rejected by close()',
  async (t) => {
    // Nothing listens on this port: the client stays in connecting/reconnecting.
    const probe = new WebSocketServer({ port: 0, host: '127.0.0.1' });
    await new Promise((r) => probe.once('listening', r));
    const port = (probe.address() as AddressInfo).port;
    await new Promise((r) => probe.close(r));
    const c = connect(`ws://127.0.0.1:${port}/realtime`, {
      offlineQueue: 2,
      timeout: 300,
      reconnect: { minDelay: 50, maxDelay: 100 },
    });
    t.teardown(() => c.close());
    const first = c.publish('a', 1);
    const second = c.history('a');
    await t.rejects(
      c.publish('a', 3),
      { code: 0, message: /offline queue full \(2 calls waiting\)/ },
      'a third waiting call is refused at once',
    );
    await t.rejects(first, { code: 0, message: /not connected after 300 ms/ });
    await t.rejects(second, { code: 0, message: /not connected after 300 ms/ });
    const third = c.publish('a', 4);
    c.close();
    await t.rejects(third, { code: 1000, message: /client closed/ });
    await t.rejects(c.publish('a', 5), { code: 0, message: /client is closed/ });
  },
);

t.test('sub.ready rejects with the close code when the client stops before the server answered', async (t) => {
  const probe = new WebSocketServer({ port: 0, host: '127.0.0.1' });
  await new Promise((r) => probe.once('listening', r));
  const port = (probe.address() as AddressInfo).port;
  await new Promise((r) => probe.close(r));
  const c = connect(`ws://127.0.0.1:${port}/realtime`, { reconnect: { minDelay: 50, maxDelay: 100 } });
  const sub = c.subscribe('a', () => {});
  c.close();
  await t.rejects(sub.ready, { code: 1000, message: /client closed/ });
  t.equal(sub.active, false);
});
