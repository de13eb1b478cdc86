// The smaller holes of issue 9 item 8: a reused pending request id gets 114; client message ids
// and server idempotency keys live in separate namespaces; the default Origin check compares the
// scheme; a browser refused by authenticate learns why (3520) and stops.
import t from 'tap';
import WebSocket from 'ws';
import { Switchyard } from '../../lib/hub.js';
import { connect } from '../../lib/client/index.js';
import { CLOSE } from '../../lib/close-codes.js';
import { fakeClient } from '../helpers/fake-transport.js';
import { once, startServer } from '../helpers/server.js';

t.test(
  '[FR-6] a request reusing the id of one still pending gets 114 and is not run; the first still gets its reply',
  async (t) => {
    let decide!: (ok: boolean) => void;
    const hub = new Switchyard({ authorize: () => new Promise<boolean>((r) => (decide = r)) });
    t.teardown(() => hub.close());
    const c = fakeClient(hub);
    c.send({ op: 'sub', id: 5, ch: 'dup.a' });
    c.send({ op: 'sub', id: 5, ch: 'dup.b' });
    const dup = await c.t.next((f) => f.op === 'err' && f.id === 5);
    t.equal(dup.code, 114);
    t.match(dup.msg, /FR-6/);
    decide(true);
    const ok = await c.t.next((f) => f.op === 'ok' && f.id === 5);
    t.ok(ok.res, 'the first request completes');
    t.equal(hub.metrics().subscriptions, 1, 'the duplicate was not run');
    // Once answered, the id may be used again (a real client cannot send before the reply reached it).
    await new Promise((r) => setImmediate(r));
    c.send({ op: 'unsub', id: 5, ch: 'dup.a' });
    await c.t.next((f) => f.op === 'ok' && f.id === 5 && f !== ok);
  },
);

t.test('a client mid cannot pre-claim a server idempotency key, nor the other way round', async (t) => {
  const { hub, url } = await startServer(t, { channels: [{ match: 'ns.>', clientPublish: true }] });
  const ws = new WebSocket(url, ['switchyard.v1']);
  t.teardown(() => ws.terminate());
  const frames: any[] = [];
  ws.on('message', (d) => frames.push(JSON.parse(String(d))));
  await once(ws, 'open');
  const reply = async (id: number) => {
    for (let i = 0; i < 500 && !frames.some((f) => f.id === id); i++) await new Promise((r) => setTimeout(r, 5));
    return frames.find((f) => f.id === id);
  };
  // The client claims "order-17" first; the backend's own publish with that key must still be stored.
  ws.send(JSON.stringify({ op: 'pub', id: 1, ch: 'ns.a', data: 'client', mid: 'order-17' }));
  t.equal((await reply(1)).res.offset, 1);
  const server = await hub.publish('ns.a', 'server', { idempotencyKey: 'order-17' });
  t.same(
    [server.offset, server.duplicate],
    [2, undefined],
    'the server publish is stored, not a duplicate of the client one',
  );
  // And the reverse.
  await hub.publish('ns.a', 'server', { idempotencyKey: 'x' });
  ws.send(JSON.stringify({ op: 'pub', id: 2, ch: 'ns.a', data: 'client', mid: 'x' }));
  t.same((await reply(2)).res, { offset: 4, epoch: server.epoch }, 'the client publish is stored too');
  // Each namespace still de-duplicates its own retries.
  ws.send(JSON.stringify({ op: 'pub', id: 3, ch: 'ns.a', data: 'client', mid: 'x' }));
  t.equal((await reply(3)).res.duplicate, true);
  t.equal((await hub.publish('ns.a', 'server', { idempotencyKey: 'x' })).duplicate, true);
});

t.test('the default Origin check compares the scheme with the request', async (t) => {
  const hub = new Switchyard();
  t.teardown(() => hub.close());
  t.equal(hub.originAllowed('https://app.example', 'app.example', 'https'), true);
  t.equal(
    hub.originAllowed('http://app.example', 'app.example', 'https'),
    false,
    'an http page may not open the https endpoint',
  );
  t.equal(hub.originAllowed('https://app.example', 'app.example', 'http'), false);
  t.equal(hub.originAllowed('https://evil.example', 'app.example', 'https'), false);

  const { url, port } = await startServer(t);
  const status = (origin: string, headers: Record<string, string> = {}) =>
    new Promise<number>((resolve) => {
      const ws = new WebSocket(url, ['switchyard.v1'], { headers: { origin, ...headers } });
      ws.on('open', () => (ws.terminate(), resolve(101)));
      ws.on('unexpected-response', (_req, res) => (res.resume(), resolve(res.statusCode ?? 0)));
      ws.on('error', () => {});
    });
  t.equal(await status(`http://127.0.0.1:${port}`), 101, 'same scheme and host over plain HTTP');
  t.equal(await status(`https://127.0.0.1:${port}`), 403, 'an https origin on a plain-HTTP request');
  t.equal(
    await status(`https://127.0.0.1:${port}`, { 'x-forwarded-proto': 'https' }),
    101,
    'behind a TLS proxy that says https',
  );
  t.equal(
    await status(`http://127.0.0.1:${port}`, { 'x-forwarded-proto': 'https' }),
    403,
    'an http page behind the TLS proxy',
  );
});

t.test(
  '[TR-5] a client refused by authenticate that offers switchyard.refusal-close gets 3520 with the reason; one that does not gets HTTP 401',
  async (t) => {
    const { url } = await startServer(t, { authenticate: () => null });
    const asked = new WebSocket(url, ['switchyard.v1', 'switchyard.refusal-close']);
    asked.on('error', () => {});
    const [code, reason] = await new Promise<[number, string]>((resolve) =>
      asked.on('close', (c, r) => resolve([c, String(r)])),
    );
    t.equal(code, CLOSE.AUTH_REFUSED);
    t.equal(reason, '401 unauthorized');
    const plain = new WebSocket(url, ['switchyard.v1']);
    plain.on('error', () => {});
    const status = await new Promise<number>((resolve) =>
      plain.on('unexpected-response', (_req, res) => (res.resume(), resolve(res.statusCode ?? 0))),
    );
    t.equal(status, 401, 'auth still runs before the upgrade for clients that can read the status');
  },
);

t.test(
  '[TR-5] the SDK on the platform WebSocket (as in a browser) stops for good when refused and reports why',
  async (t) => {
    const { url } = await startServer(t, { authenticate: () => null });
    const g = globalThis as { WebSocket?: unknown };
    const saved = g.WebSocket;
    g.WebSocket = WebSocket; // stands in for the browser's own WebSocket, which hides the HTTP status
    t.teardown(() => void (g.WebSocket = saved));
    const c = connect(url, { reconnect: { minDelay: 10, maxDelay: 20 } });
    t.teardown(() => c.close());
    const closed = await once<{ code: number; reason: string }>(c, 'closed');
    t.same(closed, { code: 3520, reason: '401 unauthorized' });
    t.equal(c.state, 'closed', 'no reconnect loop');
  },
);
