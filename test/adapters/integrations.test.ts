// The one adapter suite: identical test bodies run over bare node:http, Express, Fastify and Koa.
import t from 'tap';
import { rawUpgrade } from '../helpers/upgrade.js';
import { WebSocket } from 'ws';
import { connectClient, once } from '../helpers/server.js';
import { API_KEY, INTEGRATIONS, MAX_BODY, OPS_KEY, start } from './integrations.js';

const json = { 'content-type': 'application/json', authorization: `Bearer ${API_KEY}` };
const token = (s: string): string => 'switchyard.token.' + Buffer.from(s).toString('base64url');

async function errorOf(res: Response): Promise<{ status: number; code: number; name: string }> {
  const body = (await res.json()) as { error: { code: number; name: string; message: string } };
  return { status: res.status, code: body.error.code, name: body.error.name };
}

for (const name of INTEGRATIONS) {
  t.test(name, async (t) => {
    t.test('a client with a valid token connects and is welcomed', async (t) => {
      const s = await start(t, name);
      const c = await connectClient(t, s.url, { token: 'good' });
      t.equal(c.state, 'connected');
      t.equal(s.hub.connectionCount, 1);
    });

    t.test(
      'a bad or missing token is refused with 401 before the handshake, and no connection is opened',
      async (t) => {
        const s = await start(t, name);
        let connections = 0;
        s.hub.on('connection', () => connections++);
        t.equal(await rawUpgrade(s.url, { protocols: ['switchyard.v1', token('bad')] }), 401);
        t.equal(await rawUpgrade(s.url, { protocols: ['switchyard.v1'] }), 401);
        t.equal(
          await rawUpgrade(s.url, { protocols: [token('good')] }),
          400,
          'the switchyard.v1 subprotocol is required',
        );
        t.equal(
          await rawUpgrade(s.url, { protocols: ['switchyard.v1', token('good')] }),
          'open',
          'the same endpoint accepts a good token',
        );
        t.equal(connections, 1);
      },
    );

    t.test('a client subscribes and receives what another client publishes, in order', async (t) => {
      const s = await start(t, name);
      const a = await connectClient(t, s.url, { token: 'good' });
      const b = await connectClient(t, s.url, { token: 'good' });
      const got: Array<{ offset: number; data: unknown }> = [];
      let done!: () => void;
      const two = new Promise<void>((resolve) => (done = resolve));
      const sub = b.subscribe('chat.room', (m) => {
        got.push({ offset: m.offset, data: m.data });
        if (got.length === 2) done();
      });
      // ready resolves on the server's ok, so the publishes below cannot race the subscription.
      await sub.ready;
      await a.publish('chat.room', { n: 1 });
      await a.publish('chat.room', { n: 2 });
      await two;
      t.same(got, [
        { offset: 1, data: { n: 1 } },
        { offset: 2, data: { n: 2 } },
      ]);
    });

    t.test('an HTTP API publish reaches WebSocket subscribers', async (t) => {
      const s = await start(t, name);
      const c = await connectClient(t, s.url, { token: 'good' });
      const received = new Promise<{ offset: number; data: unknown }>((resolve) => {
        const sub = c.subscribe('news.flash', (m) => resolve({ offset: m.offset, data: m.data }));
        t.teardown(() => sub.unsubscribe());
        void sub.ready.then(async () => {
          const res = await fetch(`${s.api}/publish`, {
            method: 'POST',
            headers: json,
            body: JSON.stringify({ channel: 'news.flash', data: { headline: 'hi' } }),
          });
          t.equal(res.status, 200);
          t.match(await res.json(), { offset: 1, epoch: String });
        });
      });
      t.same(await received, { offset: 1, data: { headline: 'hi' } });
      const batch = await fetch(`${s.api}/batch`, {
        method: 'POST',
        headers: json,
        body: JSON.stringify({
          messages: [
            { channel: 'news.flash', data: 2 },
            { channel: 'news.other', data: 3 },
          ],
        }),
      });
      t.equal(batch.status, 200);
      t.match(await batch.json(), { results: [{ offset: 2 }, { offset: 1 }] });
      const hist = await fetch(`${s.api}/history?channel=news.flash`, { headers: json });
      t.match(await hist.json(), {
        messages: [
          { offset: 1, data: { headline: 'hi' } },
          { offset: 2, data: 2 },
        ],
        complete: true,
      });
      const channels = await fetch(`${s.api}/channels`, { headers: json });
      t.same(await channels.json(), { channels: [{ channel: 'news.flash', subscribers: 1 }] });
      const health = await fetch(`${s.api}/health`);
      t.same(await health.json(), { status: 'ok', connections: 1 });
    });

    t.test('/metrics and /status answer behind the key; the operations key reads them and nothing else', async (t) => {
      const s = await start(t, name);
      await connectClient(t, s.url, { token: 'good' });
      t.equal((await fetch(`${s.api}/metrics`)).status, 401, 'no key');
      t.equal(
        (await fetch(`${s.api}/status`, { headers: { authorization: 'Bearer wrong' } })).status,
        401,
        'wrong key',
      );
      for (const key of [API_KEY, OPS_KEY]) {
        const m = await fetch(`${s.api}/metrics`, { headers: { authorization: `Bearer ${key}` } });
        t.equal(m.status, 200);
        t.match(m.headers.get('content-type'), /^text\/plain; version=0\.0\.4/);
        const text = await m.text();
        t.match(text, /^switchyard_connections 1$/m);
        t.match(text, /^# TYPE switchyard_delivery_seconds histogram$/m);
        const st = await fetch(`${s.api}/status`, { headers: { 'x-api-key': key } });
        t.equal(st.status, 200);
        t.match(await st.json(), {
          counters: { connections: 1 },
          topConnections: [{ userId: undefined, subscriptions: 0 }],
          nodes: [{ connections: 1 }],
        });
      }
      const pub = await fetch(`${s.api}/publish`, {
        method: 'POST',
        headers: { ...json, authorization: `Bearer ${OPS_KEY}` },
        body: JSON.stringify({ channel: 'x', data: 1 }),
      });
      t.equal(pub.status, 401, 'the operations key cannot publish');
    });

    t.test('the admin page and its assets are served with a strict content security policy', async (t) => {
      const s = await start(t, name);
      const page = await fetch(`${s.api}/admin`);
      t.equal(page.status, 200);
      t.match(page.headers.get('content-type'), /^text\/html/);
      t.match(page.headers.get('content-security-policy'), /script-src 'self'/);
      t.equal(page.headers.get('x-frame-options'), 'DENY');
      t.match(await page.text(), /<script src="admin\/app\.js"><\/script>/);
      const js = await fetch(`${s.api}/admin/app.js`);
      t.match(js.headers.get('content-type'), /^text\/javascript/);
      t.match(await js.text(), /fetch\(STATUS/);
      t.match((await fetch(`${s.api}/admin/app.css`)).headers.get('content-type'), /^text\/css/);
    });

    t.test('another ws upgrade listener on the same server keeps working', async (t) => {
      const s = await start(t, name);
      await connectClient(t, s.url, { token: 'good' });
      const other = new WebSocket(s.otherUrl);
      t.teardown(() => other.terminate());
      await once(other, 'open');
      other.send('ping');
      const reply = await once<Buffer>(other, 'message');
      t.equal(reply.toString(), 'echo:ping');
      t.equal(s.hub.connectionCount, 1, 'the foreign socket is not a switchyard connection');
    });

    t.test('hub.close() closes clients with 1001 and lets the server close', async (t) => {
      const s = await start(t, name);
      const c = await connectClient(t, s.url, { token: 'good', reconnect: false });
      const disconnected = once<{ code: number }>(c, 'disconnected');
      await s.hub.close();
      t.equal((await disconnected).code, 1001);
      await s.closeServer();
      t.equal(s.server.listening, false);
    });

    t.test('bad HTTP API input gets the documented status and error code', async (t) => {
      const s = await start(t, name);
      const post = (path: string, body: BodyInit, headers: Record<string, string> = json): Promise<Response> =>
        fetch(`${s.api}${path}`, { method: 'POST', headers, body });
      const cases: Array<[string, () => Promise<Response>, number, number]> = [
        [
          'no API key',
          () => post('/publish', '{"channel":"a","data":1}', { 'content-type': 'application/json' }),
          401,
          115,
        ],
        [
          'a wrong API key',
          () =>
            post('/publish', '{"channel":"a","data":1}', { 'content-type': 'application/json', 'x-api-key': 'nope' }),
          401,
          115,
        ],
        ['not JSON content', () => post('/publish', 'channel=a', { ...json, 'content-type': 'text/plain' }), 415, 100],
        ['invalid JSON', () => post('/publish', '{"channel":', json), 400, 100],
        ['a body that is not an object', () => post('/publish', '[1]', json), 400, 101],
        ['a missing data field', () => post('/publish', '{"channel":"a"}', json), 400, 101],
        ['an unknown field', () => post('/publish', '{"channel":"a","data":1,"qos":1}', json), 400, 101],
        ['an invalid channel', () => post('/publish', '{"channel":"a..b","data":1}', json), 400, 103],
        ['a wildcard channel', () => post('/publish', '{"channel":"a.*","data":1}', json), 400, 103],
        [
          'a body over maxBodyBytes',
          () => post('/publish', JSON.stringify({ channel: 'a', data: 'x'.repeat(MAX_BODY) }), json),
          413,
          104,
        ],
        ['an empty batch', () => post('/batch', '{"messages":[]}', json), 400, 101],
        [
          'a batch with one bad item',
          () => post('/batch', '{"messages":[{"channel":"a","data":1},{"channel":"","data":2}]}', json),
          400,
          103,
        ],
        [
          'a history limit out of range',
          () => fetch(`${s.api}/history?channel=a&limit=0`, { headers: json }),
          400,
          101,
        ],
        ['history since without epoch', () => fetch(`${s.api}/history?channel=a&since=3`, { headers: json }), 400, 101],
        ['an unknown endpoint', () => fetch(`${s.api}/nope`, { headers: json }), 404, 116],
        ['a wrong method', () => fetch(`${s.api}/publish`, { headers: json }), 405, 116],
      ];
      for (const [what, send, status, code] of cases) {
        t.match(await errorOf(await send()), { status, code }, what);
      }
      t.equal((await s.hub.history('a')).messages.length, 0, 'nothing was published by the bad requests');
    });
  });
}
