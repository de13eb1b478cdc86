// The HTTP-streaming transport ([HS-*]) end to end over real sockets with the memory engine:
// authentication before the stream opens, subscribe/publish/QoS 1 through POSTs, heartbeats,
// the slow-consumer close, ordering of POSTs and the endpoint's refusals.
import t from 'tap';
import { request } from 'node:http';
import { connect, type Message } from '../../adapters/client-node.js';
import { streamUrl } from '../../lib/client/http-stream.js';
import { CLOSE } from '../../lib/close-codes.js';
import { once, startServer, until } from '../helpers/server.js';
import { startProxy } from '../helpers/proxy.js';

const open = { channels: [{ match: '>', clientPublish: true }] };

function streamClient(
  t: { teardown(fn: () => unknown): void },
  url: string,
  options: Parameters<typeof connect>[1] = {},
) {
  const c = connect(url, { reconnect: { minDelay: 20, maxDelay: 200 }, transports: ['http-stream'], ...options });
  t.teardown(() => c.close());
  return c;
}

/** One raw HTTP request; resolves with status and body. */
function http(
  url: string,
  method: string,
  headers: Record<string, string> = {},
  body?: string,
): Promise<{ status: number; body: string; headers: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method, headers }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text, headers: res.headers }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

t.test('a client on the HTTP stream subscribes, publishes at QoS 1 and receives, like on a WebSocket', async (t) => {
  const s = await startServer(t, open);
  const c = streamClient(t, s.url);
  await once(c, 'connected');
  const got: Message[] = [];
  let arrivedAll!: () => void;
  const arrived = new Promise<void>((resolve) => (arrivedAll = resolve));
  const sub = c.subscribe(
    'chat.a',
    (m) => {
      got.push(m);
      if (got.length === 3) arrivedAll();
    },
    { qos: 1 },
  );
  await sub.ready;
  const acks = await Promise.all([1, 2, 3].map((n) => c.publish('chat.a', { n }, { qos: 1 })));
  await arrived;
  t.same(
    got.map((m) => m.data),
    [{ n: 1 }, { n: 2 }, { n: 3 }],
    'in publish order',
  );
  t.same(
    acks.map((a) => a.offset),
    [1, 2, 3],
  );
  t.equal(s.hub.connectionCount, 1);
});

t.test(
  'authenticate runs before the stream opens: the Bearer token reaches it, a refusal is a terminal close with the status',
  async (t) => {
    const s = await startServer(t, { ...open, authenticate: ({ token }) => (token === 'good' ? { id: 'u1' } : null) });
    const ok = streamClient(t, s.url, { token: 'good' });
    await once(ok, 'connected');
    const bad = streamClient(t, s.url, { token: 'bad' });
    const closed = await once<{ code: number; reason: string }>(bad, 'closed');
    t.equal(closed.code, CLOSE.KICKED, 'terminal, as a refused upgrade in Node');
    t.match(closed.reason, /HTTP 401/);
    t.equal(s.hub.connectionCount, 1, 'only the authenticated stream is a connection');
  },
);

t.test('the stream answers pings through POSTs, so the heartbeat keeps it open', async (t) => {
  const s = await startServer(t, { ...open, heartbeatInterval: 300 });
  const c = streamClient(t, s.url);
  await once(c, 'connected');
  let dropped = false;
  c.on('disconnected', () => (dropped = true));
  const conn = [...(s.hub as unknown as { conns: Map<string, { framesIn: number }> }).conns.values()][0]!;
  // Each round clears the connection's `alive` flag; it survives only if a pong POST arrives before the next.
  await until(() => conn.framesIn >= 5 || dropped, 15_000);
  t.equal(dropped, false, 'five pongs later the stream never dropped');
  t.equal(c.state, 'connected');
  t.equal(s.hub.connectionCount, 1);
});

t.test('batches that reach the node out of order are handed over in the order the client sent them', async (t) => {
  const s = await startServer(t, open);
  const sub = streamClient(t, s.url);
  await once(sub, 'connected');
  const got: unknown[] = [];
  let finished!: () => void;
  const done = new Promise<void>((resolve) => (finished = resolve));
  await sub.subscribe('order.x', (m) => {
    got.push(m.data);
    if (got.length === 2) finished();
  }).ready;
  // A second raw stream, driven by hand: POST seq 1 before seq 0.
  const res = await new Promise<import('node:http').IncomingMessage>((resolve) =>
    request(streamUrl(s.url), (r) => resolve(r)).end(),
  );
  t.equal(res.statusCode, 200);
  t.equal(res.headers['content-type'], 'text/event-stream; charset=utf-8');
  t.teardown(() => res.destroy());
  res.setEncoding('utf8');
  const sid = await new Promise<string>((resolve) => {
    let buf = '';
    res.on('data', (c: string) => {
      buf += c;
      const m = /event: session\ndata: (\S+)\n\n/.exec(buf);
      if (m) resolve(m[1]!);
    });
  });
  const url = streamUrl(s.url);
  const later = await http(
    url,
    'POST',
    { 'switchyard-session': sid, 'switchyard-seq': '1' },
    JSON.stringify({ op: 'pub', id: 2, ch: 'order.x', data: 'second' }),
  );
  t.equal(later.status, 204);
  const first = await http(
    url,
    'POST',
    { 'switchyard-session': sid, 'switchyard-seq': '0' },
    JSON.stringify({ op: 'pub', id: 1, ch: 'order.x', data: 'first' }),
  );
  t.equal(first.status, 204);
  const retry = await http(
    url,
    'POST',
    { 'switchyard-session': sid, 'switchyard-seq': '0' },
    JSON.stringify({ op: 'pub', id: 3, ch: 'order.x', data: 'again' }),
  );
  t.equal(retry.status, 204, 'a retried batch is accepted and ignored');
  await done;
  t.same(got, ['first', 'second']);
});

t.test('the endpoint refuses what it cannot serve, with a status that says why', async (t) => {
  const s = await startServer(t, open);
  const url = streamUrl(s.url);
  t.equal((await http(url.replace(/\?.*/, ''), 'GET')).status, 400, 'no protocol version');
  t.equal(
    (await http(url, 'POST', { 'switchyard-session': 'nope', 'switchyard-seq': '0' }, '{}')).status,
    404,
    'unknown session',
  );
  t.equal((await http(url, 'POST', {}, '{}')).status, 400, 'no session header');
  t.equal((await http(url, 'PUT')).status, 405);
  t.equal((await http(url, 'GET', { origin: 'https://evil.example' })).status, 403, 'origin not allowed');
  const pre = await http(url, 'OPTIONS', { origin: `http://127.0.0.1:${s.port}`, host: `127.0.0.1:${s.port}` });
  t.equal(pre.status, 204);
  t.match(String(pre.headers['access-control-allow-headers']), /switchyard-session/);
  t.equal((await http(`http://127.0.0.1:${s.port}/other`, 'GET')).status, 404, 'other paths reach the app');
});

t.test('a stream that cannot keep up is closed like a slow WebSocket', async (t) => {
  const s = await startServer(t, {
    ...open,
    heartbeatInterval: 60_000,
    limits: { queueHighWaterBytes: 16 * 1024, maxQueuedBytes: 64 * 1024, slowConsumerTimeout: 200 },
  });
  // A raw stream that never reads its body: the server's queue fills.
  const res = await new Promise<import('node:http').IncomingMessage>((resolve) =>
    request(streamUrl(s.url), (r) => resolve(r)).end(),
  );
  t.teardown(() => res.destroy());
  res.pause();
  const sid = await new Promise<string>((resolve) => {
    res.once('readable', () => {
      const chunk = String(res.read());
      resolve(/data: (\S+)/.exec(chunk)![1]!);
    });
  });
  const url = streamUrl(s.url);
  t.equal(
    (
      await http(
        url,
        'POST',
        { 'switchyard-session': sid, 'switchyard-seq': '0' },
        JSON.stringify({ op: 'sub', id: 1, ch: 'big.x' }),
      )
    ).status,
    204,
  );
  const closed = once<{ id: string; code: number }>(s.hub, 'disconnect');
  // Enough to fill the kernel's socket buffers on both ends (a few MB on loopback) and then the response's.
  const blob = 'x'.repeat(32 * 1024);
  for (let i = 0; i < 3000 && s.hub.connectionCount > 0; i++) {
    await s.hub.publish('big.x', blob);
  }
  t.equal((await closed).code, CLOSE.SLOW_CONSUMER);
});

t.test(
  'with transports [websocket, http-stream] a client whose upgrades are refused falls back, and uses WebSockets where they work',
  async (t) => {
    const s = await startServer(t, open);
    const proxy = await startProxy(t, [s.port]);
    const blocked = connect(`ws://127.0.0.1:${proxy.port}/realtime`, {
      transports: ['websocket', 'http-stream'],
      reconnect: { minDelay: 20, maxDelay: 200 },
    });
    t.teardown(() => blocked.close());
    await once(blocked, 'connected');
    t.equal(blocked.transport, 'http-stream');
    t.equal(proxy.refusedUpgrades, 1);
    const direct = connect(s.url, { transports: ['websocket', 'http-stream'] });
    t.teardown(() => direct.close());
    await once(direct, 'connected');
    t.equal(direct.transport, 'websocket');
    let received!: (m: Message) => void;
    const got = new Promise<Message>((resolve) => (received = resolve));
    await blocked.subscribe('x.y', received).ready;
    await direct.publish('x.y', 'over both transports');
    t.equal((await got).data, 'over both transports');
  },
);

t.test('transports must name known transports; the error says how to get HTTP streaming', async (t) => {
  t.throws(() => connect('ws://127.0.0.1:1/x', { transports: [] }), /non-empty array/);
  t.throws(
    () => connect('ws://127.0.0.1:1/x', { transports: ['carrier-pigeon' as 'websocket'] }),
    /unknown transport carrier-pigeon; use 'websocket' or httpStream/,
  );
});
