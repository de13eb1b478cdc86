// The HTTP API on bare node:http: auth, idempotency, batches, history, limits, shutdown, and the
// status table in docs/http-api.md agreeing with the code.
import { readFileSync } from 'node:fs';
import { createServer, request } from 'node:http';
import type { AddressInfo } from 'node:net';
import t from 'tap';
import { ERRORS } from '../../lib/errors.js';
import { Switchyard } from '../../lib/hub.js';
import { memoryEngine } from '../../lib/engine-memory.js';
import type { SwitchyardOptions } from '../../lib/options.js';
import { createApi, HTTP_STATUS, httpApi, type HttpApiOptions } from '../../adapters/http-api.js';

const KEY = 'k-0123456789';
const json = { 'content-type': 'application/json', authorization: `Bearer ${KEY}` };

async function serve(
  t: { teardown(fn: () => unknown): void },
  api: Partial<HttpApiOptions> = {},
  hubOptions: SwitchyardOptions = {},
) {
  const hub = new Switchyard(hubOptions);
  const handle = httpApi(hub, { apiKey: KEY, ...api });
  let fellThrough = 0;
  const server = createServer((req, res) => {
    handle(req, res, () => fellThrough++);
    if (!res.headersSent && !res.writableEnded && fellThrough) res.writeHead(404).end('app route');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.teardown(async () => {
    await hub.close();
    await new Promise((r) => server.close(r));
  });
  const port = (server.address() as AddressInfo).port;
  const base = `http://127.0.0.1:${port}/realtime/api`;
  const post = (path: string, body: unknown, headers: Record<string, string> = json) =>
    fetch(base + path, { method: 'POST', headers, body: typeof body === 'string' ? body : JSON.stringify(body) });
  return { hub, port, base, post, fellThrough: () => fellThrough };
}

t.test('requests outside the prefix go to next() and the app', async (t) => {
  const s = await serve(t);
  const res = await fetch(`http://127.0.0.1:${s.port}/realtime/apix`);
  t.equal(res.status, 404);
  t.equal(await res.text(), 'app route');
  t.equal(s.fellThrough(), 1);
});

t.test('the key is accepted as a Bearer token or X-Api-Key, and any of several keys works', async (t) => {
  const s = await serve(t, { apiKey: [KEY, 'second-key'] });
  t.equal((await s.post('/publish', { channel: 'a', data: 1 })).status, 200);
  t.equal(
    (
      await s.post(
        '/publish',
        { channel: 'a', data: 2 },
        { 'content-type': 'application/json', 'x-api-key': 'second-key' },
      )
    ).status,
    200,
  );
  t.equal(
    (
      await s.post(
        '/publish',
        { channel: 'a', data: 3 },
        { 'content-type': 'application/json', authorization: 'Basic abc' },
      )
    ).status,
    401,
  );
  t.equal((await fetch(`${s.base}/health`)).status, 200, 'health needs no key');
});

t.test('an Idempotency-Key header makes a retried publish store nothing twice', async (t) => {
  const s = await serve(t);
  const h = { ...json, 'idempotency-key': 'order-17' };
  const first = await s.post('/publish', { channel: 'orders.new', data: { id: 17 } }, h);
  const again = await s.post('/publish', { channel: 'orders.new', data: { id: 17 } }, h);
  const a = (await first.json()) as { offset: number; epoch: string };
  t.same(await again.json(), { ...a, duplicate: true });
  t.equal(again.headers.get('idempotent-replayed'), 'true');
  t.equal(first.headers.get('idempotent-replayed'), null);
  const viaBody = await s.post('/publish', { channel: 'orders.new', data: { id: 17 }, idempotencyKey: 'order-17' });
  t.match(await viaBody.json(), { offset: a.offset, duplicate: true }, 'the body field is the same key');
  t.equal((await s.hub.history('orders.new')).messages.length, 1);
  const tooLong = await s.post('/publish', { channel: 'orders.new', data: 1, idempotencyKey: 'x'.repeat(65) });
  t.match(await tooLong.json(), { error: { code: 101 } });
});

t.test('a retried batch with the same Idempotency-Key stores each message once', async (t) => {
  const s = await serve(t);
  const body = {
    messages: [
      { channel: 'a', data: 1 },
      { channel: 'a', data: 2 },
      { channel: 'b', data: 3 },
    ],
  };
  const h = { ...json, 'idempotency-key': 'batch-1' };
  const r1 = (await (await s.post('/batch', body, h)).json()) as { results: unknown[] };
  const r2 = (await (await s.post('/batch', body, h)).json()) as { results: Array<{ duplicate?: boolean }> };
  t.match(r1.results, [{ offset: 1 }, { offset: 2 }, { offset: 1 }]);
  t.ok(r2.results.every((r) => r.duplicate === true));
  t.same(
    (await s.hub.history('a')).messages.map((m) => m.data),
    [1, 2],
  );
});

t.test('a batch larger than maxBatch is refused whole', async (t) => {
  const s = await serve(t, { maxBatch: 2 });
  const res = await s.post('/batch', { messages: [1, 2, 3].map((n) => ({ channel: 'a', data: n })) });
  t.equal(res.status, 400);
  t.match(await res.json(), { error: { code: 101 } });
  t.equal((await s.hub.history('a')).messages.length, 0);
});

t.test('a batch item the engine fails is reported in place with 207 while the others are stored', async (t) => {
  const engine = memoryEngine();
  const append = engine.storage.append.bind(engine.storage);
  engine.storage.append = (ch, payload, o) =>
    ch === 'broken' ? Promise.reject(new Error('disk full')) : append(ch, payload, o);
  const s = await serve(t, {}, { engine });
  const res = await s.post('/batch', {
    messages: [
      { channel: 'a', data: 1 },
      { channel: 'broken', data: 2 },
      { channel: 'a', data: 3 },
    ],
  });
  t.equal(res.status, 207);
  t.match(await res.json(), {
    results: [{ offset: 1 }, { error: { code: 201, name: 'ENGINE_UNAVAILABLE' } }, { offset: 2 }],
  });
});

t.test('history pages with limit and since, and says when since is no longer covered', async (t) => {
  const s = await serve(t, {}, { channels: [{ match: 'live.*', history: false }] });
  for (let i = 1; i <= 5; i++) await s.hub.publish('feed.x', i);
  const { epoch } = await s.hub.position('feed.x');
  const page = await (
    await fetch(`${s.base}/history?channel=feed.x&since=2&epoch=${epoch}&limit=2`, { headers: json })
  ).json();
  t.same(page, {
    messages: [
      { offset: 3, data: 3 },
      { offset: 4, data: 4 },
    ],
    position: { offset: 5, epoch },
    complete: true,
  });
  const stale = await (await fetch(`${s.base}/history?channel=feed.x&since=2&epoch=old`, { headers: json })).json();
  t.match(stale, { complete: false });
  const disabled = await fetch(`${s.base}/history?channel=live.x`, { headers: json });
  t.equal(disabled.status, 409);
  t.match(await disabled.json(), { error: { code: 112, name: 'HISTORY_DISABLED' } });
});

t.test('authorize sees action and channels; false gives 403 (107), a throw gives 500 (200)', async (t) => {
  const seen: unknown[] = [];
  const s = await serve(t, {
    authorize: ({ action, channels }) => {
      seen.push([action, channels]);
      if (channels.includes('boom')) throw new Error('hook bug');
      return !channels.includes('secret');
    },
  });
  t.equal((await s.post('/publish', { channel: 'open', data: 1 })).status, 200);
  const denied = await s.post('/batch', {
    messages: [
      { channel: 'open', data: 1 },
      { channel: 'secret', data: 2 },
    ],
  });
  t.equal(denied.status, 403);
  t.match(await denied.json(), { error: { code: 107 } });
  const broken = await s.post('/publish', { channel: 'boom', data: 1 });
  t.equal(broken.status, 500);
  t.match(await broken.json(), { error: { code: 200, name: 'INTERNAL' } });
  await fetch(`${s.base}/channels`, { headers: json });
  t.same(seen, [
    ['publish', ['open']],
    ['publish', ['open', 'secret']],
    ['publish', ['boom']],
    ['channels', []],
  ]);
  t.equal((await s.hub.history('open')).messages.length, 1, 'a denied batch publishes nothing');
});

t.test('a chunked body over maxBodyBytes gets 413 (104) without being buffered', async (t) => {
  const s = await serve(t, { maxBodyBytes: 1024 });
  const status = await new Promise<{ status: number; body: string }>((resolve, reject) => {
    const req = request(`${s.base}/publish`, { method: 'POST', headers: json }, (res) => {
      let body = '';
      res.on('data', (c) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    // No Content-Length: the limit must hold while streaming.
    for (let i = 0; i < 8; i++) req.write('x'.repeat(512));
    req.end();
  });
  t.equal(status.status, 413);
  t.match(JSON.parse(status.body), { error: { code: 104 } });
});

t.test('data over limits.maxMessageBytes gets 413 and data nested too deep gets 400', async (t) => {
  const s = await serve(t, {}, { limits: { maxMessageBytes: 100, maxDepth: 3 } });
  const big = await s.post('/publish', { channel: 'a', data: 'x'.repeat(200) });
  t.equal(big.status, 413);
  t.match(await big.json(), { error: { code: 104 } });
  const deep = await s.post('/publish', { channel: 'a', data: [[[[1]]]] });
  t.equal(deep.status, 400);
  t.match(await deep.json(), { error: { code: 101 } });
});

t.test('while the hub closes, publish gets 503 (202) and health reports closing', async (t) => {
  const s = await serve(t);
  await s.hub.close();
  const res = await s.post('/publish', { channel: 'a', data: 1 });
  t.equal(res.status, 503);
  t.match(await res.json(), { error: { code: 202, name: 'SHUTTING_DOWN' } });
  const health = await fetch(`${s.base}/health`);
  t.equal(health.status, 503);
  t.same(await health.json(), { status: 'closing', connections: 0 });
});

t.test('bad options are refused with 150 naming the option', async (t) => {
  const hub = new Switchyard();
  t.teardown(() => hub.close());
  t.throws(() => createApi(hub, {}), { code: 150, message: /apiKey/ });
  t.throws(() => createApi(hub, { apiKey: '' }), { code: 150, message: /apiKey/ });
  t.throws(() => createApi(hub, { apiKey: 'k', prefix: 'api/' }), { code: 150, message: /prefix/ });
  t.throws(() => createApi(hub, { apiKey: 'k', maxBodyBytes: 0 }), { code: 150, message: /maxBodyBytes/ });
  t.throws(() => createApi(hub, { apiKey: 'k', authorize: 'yes' as never }), { code: 150, message: /authorize/ });
  t.doesNotThrow(() => createApi(hub, { authorize: () => true }));
});

t.test('every registry code has an HTTP status, and docs/http-api.md lists the same mapping', async (t) => {
  const doc = readFileSync(new URL('../../docs/http-api.md', import.meta.url), 'utf8');
  const lines = doc.split('\n');
  const start = lines.findIndex((l) => l.startsWith('| code | name | HTTP status |'));
  t.ok(start >= 0, 'the status table exists');
  const fromDoc: Record<number, number> = {};
  for (let i = start + 2; i < lines.length && lines[i]!.startsWith('|'); i++) {
    const [code, , status] = lines[i]!.slice(1, -1)
      .split(' | ')
      .map((c) => c.trim());
    fromDoc[Number(code)] = Number(status);
  }
  const fromCode = Object.fromEntries(Object.values(ERRORS).map((e) => [e.code, HTTP_STATUS[e.code]]));
  t.same(fromDoc, fromCode);
  t.ok(
    Object.values(fromCode).every((s) => typeof s === 'number'),
    'no code lacks a status',
  );
});
