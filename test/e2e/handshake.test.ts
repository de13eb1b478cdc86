// The upgrade path: authentication, Origin and subprotocol are checked before the handshake
// completes, and upgrades for other paths are left to other listeners.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import t from 'tap';
import { rawUpgrade } from '../helpers/upgrade.js';
import WebSocket, { WebSocketServer } from 'ws';
import { attach } from '../../adapters/http.js';
import { connect } from '../../adapters/client-node.js';
import { SwitchyardError } from '../../lib/errors.js';
import { Switchyard } from '../../lib/hub.js';
import { connectClient, once, startServer } from '../helpers/server.js';

t.test('authentication refused before the handshake gets 401 and opens no connection', async (t) => {
  const s = await startServer(t, { authenticate: () => null });
  let connections = 0;
  s.hub.on('connection', () => connections++);
  t.equal(await rawUpgrade(s.url), 401);
  t.equal(connections, 0);
  t.equal(s.hub.connectionCount, 0);
});

t.test('authenticate throwing FORBIDDEN gets 403; throwing anything else gets 500', async (t) => {
  const s = await startServer(t, {
    authenticate: (req) => {
      if (req.headers['x-role'] === 'banned') throw new SwitchyardError('FORBIDDEN');
      throw new Error('database down');
    },
  });
  t.equal(await rawUpgrade(s.url, { headers: { 'x-role': 'banned' } }), 403);
  t.equal(await rawUpgrade(s.url), 500);
});

t.test('an authenticate slower than limits.authTimeout gets 503', async (t) => {
  const s = await startServer(t, { authenticate: () => new Promise(() => {}), limits: { authTimeout: 50 } });
  t.equal(await rawUpgrade(s.url), 503);
});

t.test('the client token reaches authenticate through the subprotocol header, not the URL', async (t) => {
  const seen: Array<{ token?: string; url: string }> = [];
  const s = await startServer(t, {
    authenticate: (req) => {
      seen.push({ token: req.token, url: req.url });
      return req.token === 'sécret-token' ? { name: 'ada' } : null;
    },
  });
  const users: unknown[] = [];
  s.hub.on('connection', (c) => users.push(c.user));
  await connectClient(t, s.url, { token: 'sécret-token' });
  t.same(seen, [{ token: 'sécret-token', url: '/realtime' }]);
  t.same(users, [{ name: 'ada' }]);
});

t.test('a Node client refused with 401 stops instead of retrying', async (t) => {
  const s = await startServer(t, { authenticate: () => false });
  const c = connect(s.url, { reconnect: { minDelay: 10, maxDelay: 20 } });
  t.teardown(() => c.close());
  const closed = await once<{ code: number; reason: string }>(c, 'closed');
  t.equal(closed.code, 3502);
  t.match(closed.reason, /401/);
  t.equal(c.state, 'closed');
});

t.test('Origin: a browser from another site is refused with 403 by default', async (t) => {
  const s = await startServer(t);
  t.equal(await rawUpgrade(s.url, { headers: { origin: 'https://evil.example' } }), 403);
  t.equal(await rawUpgrade(s.url, { headers: { origin: `http://127.0.0.1:${s.port}` } }), 'open', 'same origin');
  t.equal(await rawUpgrade(s.url), 'open', 'no Origin (not a browser)');
});

t.test('Origin: allowedOrigins lists the sites that may connect', async (t) => {
  const s = await startServer(t, { allowedOrigins: ['https://app.example'] });
  t.equal(await rawUpgrade(s.url, { headers: { origin: 'https://app.example' } }), 'open');
  t.equal(await rawUpgrade(s.url, { headers: { origin: 'https://app.example.evil' } }), 403);
});

t.test('an upgrade without the switchyard.v1 subprotocol gets 400', async (t) => {
  const s = await startServer(t);
  t.equal(await rawUpgrade(s.url, { protocols: [] }), 400);
  t.equal(await rawUpgrade(s.url, { protocols: ['graphql-ws'] }), 400);
});

t.test('upgrades for other paths are left to another ws server on the same http server', async (t) => {
  const s = await startServer(t);
  const other = new WebSocketServer({ noServer: true });
  t.teardown(() => other.close());
  s.server.on('upgrade', (req, socket, head) => {
    if (req.url === '/hmr') other.handleUpgrade(req, socket, head, (ws) => ws.send('from the other server'));
  });
  const ws = new WebSocket(`ws://127.0.0.1:${s.port}/hmr`);
  t.teardown(() => ws.terminate());
  const [data] = await once<[Buffer]>(
    { once: (e: string, fn: (...a: any[]) => void) => ws.once(e, (...a) => fn(a)) },
    'message',
  );
  t.equal(data.toString(), 'from the other server');
  t.equal(s.hub.connectionCount, 0);
  // And our endpoint still works beside it.
  const c = await connectClient(t, s.url);
  t.equal(c.state, 'connected');
});

t.test('two hubs on one server each answer only their own path', async (t) => {
  const a = await startServer(t);
  const hubB = new Switchyard();
  attach(hubB, a.server, { path: '/b' });
  t.teardown(() => hubB.close());
  await connectClient(t, a.url);
  await connectClient(t, `ws://127.0.0.1:${a.port}/b`);
  t.equal(a.hub.connectionCount, 1);
  t.equal(hubB.connectionCount, 1);
});

t.test('an upgrade nobody answers is ended after unhandledUpgradeTimeout', async (t) => {
  const hub = new Switchyard();
  const server = createServer();
  attach(hub, server, { path: '/realtime', unhandledUpgradeTimeout: 50 });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.teardown(async () => {
    await hub.close();
    await new Promise((r) => server.close(r));
  });
  const ws = new WebSocket(`ws://127.0.0.1:${(server.address() as AddressInfo).port}/nobody`);
  const err = await new Promise<Error>((resolve) => ws.on('error', resolve));
  t.match(err.message, /socket hang up|ECONNRESET/);
});

t.test('attach validates its options', async (t) => {
  const hub = new Switchyard();
  t.teardown(() => hub.close());
  const server = createServer();
  t.throws(() => attach(hub, server, { path: 'realtime' }), { code: 150, message: /path must be a URL path/ });
  t.throws(() => attach(hub, server, {} as never), { code: 150 });
  t.throws(() => attach(hub, server, { path: '/x', unhandledUpgradeTimeout: -1 }), { code: 150 });
});

t.test('the client token never appears in logs, error frames or close reasons', async (t) => {
  const TOKEN = 'tok-SECRET-7f3a';
  const logged: string[] = [];
  const logger = {
    debug: (o: object, m?: string) => logged.push(JSON.stringify(o) + m),
    info: (o: object, m?: string) => logged.push(JSON.stringify(o) + m),
    warn: (o: object, m?: string) => logged.push(JSON.stringify(o) + m),
    error: (o: object, m?: string) => logged.push(JSON.stringify(o) + m),
  };
  let calls = 0;
  const s = await startServer(t, {
    logger,
    authenticate: (req) => {
      if (++calls === 1) throw new Error('user store down'); // logged, with the hook's message only
      return req.token === TOKEN ? { id: 1 } : null;
    },
    authorize: () => {
      throw new Error('policy engine down'); // logged and denied
    },
  });
  const frames: string[] = [];
  t.equal(
    await rawUpgrade(s.url, {
      protocols: ['switchyard.v1', 'switchyard.token.' + Buffer.from(TOKEN).toString('base64url')],
    }),
    500,
  );
  const c = await connectClient(t, s.url, { token: TOKEN });
  c.on('error', (e) => frames.push(e.message));
  await t.rejects(c.subscribe('news', () => {}).ready, { code: 107 });
  const closed = once<{ code: number; reason: string }>(c, 'closed');
  s.hub.disconnect([...(s.hub as any).conns.keys()][0], 4502, 'bye');
  frames.push((await closed).reason);
  t.ok(logged.length >= 2, 'the hook failures were logged');
  for (const line of [...logged, ...frames]) t.notMatch(line, TOKEN);
});
