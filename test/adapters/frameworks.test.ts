// What each framework adapter adds beyond the looped suite: Fastify hooks before the handshake,
// decorator and logging; Express middleware reuse in authenticate; Koa context and cookies.
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import websocket from '@fastify/websocket';
import express from 'express';
import Fastify from 'fastify';
import Koa from 'koa';
import t from 'tap';
import { rawUpgrade } from '../helpers/upgrade.js';
import { WebSocket } from 'ws';
import { Switchyard } from '../../lib/hub.js';
import { apiRouter, attach as attachExpress, runMiddleware, type ExpressAuthRequest } from '../../adapters/express.js';
import { switchyard as fastifySwitchyard } from '../../adapters/fastify.js';
import { attach as attachKoa, switchyard as koaSwitchyard } from '../../adapters/koa.js';
import { once } from '../helpers/server.js';

const listen = (app: { listen: (port: number, host: string, cb: () => void) => Server }): Promise<Server> =>
  new Promise((resolve) => {
    const s = app.listen(0, '127.0.0.1', () => resolve(s));
  });
const portOf = (s: Server): number => (s.address() as AddressInfo).port;

t.test('fastify', async (t) => {
  t.test("the app's onRequest hook refuses an upgrade before the handshake, so authenticate never runs", async (t) => {
    let authCalls = 0;
    const hub = new Switchyard({ authenticate: () => (authCalls++, { name: 'a' }) });
    const app = Fastify();
    t.teardown(() => app.close());
    await app.register(websocket);
    app.addHook('onRequest', async (req, reply) => {
      if (req.headers['x-blocked']) return reply.code(429).send({ error: 'slow down' });
    });
    await app.register(fastifySwitchyard, { hub });
    await app.listen({ port: 0, host: '127.0.0.1' });
    const url = `ws://127.0.0.1:${portOf(app.server)}/realtime`;
    t.equal(await rawUpgrade(url, { headers: { 'x-blocked': '1' } }), 429);
    t.equal(authCalls, 0);
    t.equal(await rawUpgrade(url), 'open');
    t.equal(authCalls, 1);
  });

  t.test(
    'decorates fastify.switchyard, logs through fastify.log, and fastify.close() closes clients with 1001',
    async (t) => {
      const lines: string[] = [];
      const stream = new Writable({ write: (c, _e, cb) => (lines.push(c.toString()), cb()) });
      const app = Fastify({ logger: { level: 'debug', stream } });
      t.teardown(() => app.close());
      await app.register(websocket);
      await app.register(fastifySwitchyard, { hubOptions: { closeTimeout: 1_000 } });
      await app.listen({ port: 0, host: '127.0.0.1' });
      t.ok(app.switchyard instanceof Switchyard);
      const ws = new WebSocket(`ws://127.0.0.1:${portOf(app.server)}/realtime`, ['switchyard.v1']);
      await once(ws, 'open');
      const closed = new Promise<number>((resolve) => ws.on('close', (code) => resolve(code)));
      await app.close();
      t.equal(await closed, 1001);
      t.equal(app.switchyard.isClosing, true);
      // The hub the plugin created logs its lifecycle through fastify.log, once per event.
      t.equal(lines.filter((l) => l.includes('"msg":"connection opened"')).length, 1);
      t.equal(lines.filter((l) => l.includes('"msg":"connection closed"')).length, 1);
      t.notOk(
        lines.some((l) => l.includes('switchyard client connected')),
        'no second line for the same event',
      );
    },
  );

  t.test('a plain GET on the WebSocket route gets 426', async (t) => {
    const app = Fastify();
    t.teardown(() => app.close());
    await app.register(websocket);
    await app.register(fastifySwitchyard, {});
    const res = await app.inject({ method: 'GET', url: '/realtime' });
    t.equal(res.statusCode, 426);
  });

  t.test('registering without @fastify/websocket fails with a message naming it', async (t) => {
    const app = Fastify();
    t.teardown(() => app.close());
    await t.rejects(async () => {
      await app.register(fastifySwitchyard, {});
      await app.ready();
    }, /@fastify\/websocket/);
  });

  t.test("the app's own hooks guard the HTTP API, and the envelope covers Fastify's body-limit error", async (t) => {
    const app = Fastify();
    t.teardown(() => app.close());
    await app.register(websocket);
    app.addHook('onRequest', async (req, reply) => {
      if (req.url.startsWith('/realtime/api') && req.headers['x-session'] !== 'ok')
        return reply.code(401).send({ error: 'login' });
    });
    await app.register(fastifySwitchyard, { api: { authorize: () => true, maxBodyBytes: 100 } });
    const pub = (headers: Record<string, string>, payload: string) =>
      app.inject({
        method: 'POST',
        url: '/realtime/api/publish',
        headers: { 'content-type': 'application/json', ...headers },
        payload,
      });
    t.equal((await pub({}, '{"channel":"a","data":1}')).statusCode, 401);
    const ok = await pub({ 'x-session': 'ok' }, '{"channel":"a","data":1}');
    t.equal(ok.statusCode, 200);
    t.match(ok.json(), { offset: 1 });
    const big = await pub({ 'x-session': 'ok' }, JSON.stringify({ channel: 'a', data: 'x'.repeat(200) }));
    t.equal(big.statusCode, 413);
    t.match(big.json(), { error: { code: 104, name: 'MESSAGE_TOO_LARGE' } });
  });
});

t.test('express', async (t) => {
  // The app's own session middleware: a cookie names a session in memory.
  const sessions = new Map([['s1', { name: 'alice' }]]);
  const session: express.RequestHandler = (req, _res, next) => {
    const sid = /(?:^|;\s*)sid=([^;]+)/.exec(req.headers.cookie ?? '')?.[1];
    (req as unknown as { user?: unknown }).user = sid ? sessions.get(sid) : undefined;
    next();
  };

  t.test('authenticate reuses the session middleware through runMiddleware', async (t) => {
    const users: unknown[] = [];
    const hub = new Switchyard({
      authenticate: async ({ raw }) => {
        const req = raw as Parameters<typeof runMiddleware>[0] & { user?: unknown };
        return (await runMiddleware(req, session)) ? (req.user ?? null) : null;
      },
    });
    hub.on('connection', (c) => users.push(c.user));
    const app = express();
    app.use(session);
    const server = await listen(app);
    attachExpress(hub, server, { path: '/realtime' });
    t.teardown(async () => {
      await hub.close();
      await new Promise((r) => server.close(r));
    });
    const url = `ws://127.0.0.1:${portOf(server)}/realtime`;
    t.equal(await rawUpgrade(url), 401);
    t.equal(await rawUpgrade(url, { headers: { cookie: 'sid=nope' } }), 401);
    t.equal(await rawUpgrade(url, { headers: { cookie: 'sid=s1' } }), 'open');
    t.same(users, [{ name: 'alice' }]);
  });

  t.test(
    'given the app, authenticate gets an Express Request: req.get(), req.query, the app, and what middleware set',
    async (t) => {
      const seen: unknown[] = [];
      const hub = new Switchyard({
        authenticate: async ({ raw }: ExpressAuthRequest) => {
          seen.push({ host: raw.get('host') === raw.headers.host, room: raw.query.room, app: raw.app === app });
          return (await runMiddleware(raw, session))
            ? ((raw as typeof raw & { user?: { name: string } }).user ?? null)
            : null;
        },
      });
      const app = express();
      const server = await listen(app);
      attachExpress(hub, server, { path: '/realtime', app });
      t.teardown(async () => {
        await hub.close();
        await new Promise((r) => server.close(r));
      });
      t.equal(
        await rawUpgrade(`ws://127.0.0.1:${portOf(server)}/realtime?room=7`, { headers: { cookie: 'sid=s1' } }),
        'open',
      );
      t.same(seen, [{ host: true, room: '7', app: true }]);
    },
  );

  t.test('runMiddleware resolves false when middleware ends the response and rejects on next(err)', async (t) => {
    const req = { headers: {}, url: '/', method: 'GET' } as unknown as Parameters<typeof runMiddleware>[0];
    t.equal(
      await runMiddleware(
        req,
        (_q, _s, next) => next(),
        (_q, s) => void s.end(),
      ),
      false,
    );
    await t.rejects(
      runMiddleware(req, (_q, _s, next) => next(new Error('boom'))),
      /boom/,
    );
    await t.rejects(
      runMiddleware(req, async () => {
        throw new Error('async boom');
      }),
      /async boom/,
    );
    t.equal(await runMiddleware(req), true);
  });

  t.test(
    'apiRouter uses a body express.json() already parsed, and refuses to mount at the root without a prefix',
    async (t) => {
      const hub = new Switchyard();
      const app = express();
      app.use(express.json());
      app.use('/rt/api', apiRouter(hub, { apiKey: 'k' }));
      const root = express();
      root.set('env', 'test'); // keeps Express from printing the expected error
      root.use(apiRouter(hub, { apiKey: 'k' }));
      root.get('/x', (_q, s) => void s.send('x'));
      const [server, rootServer] = await Promise.all([listen(app), listen(root)]);
      t.teardown(async () => {
        await hub.close();
        await Promise.all([server, rootServer].map((s) => new Promise((r) => s.close(r))));
      });
      const res = await fetch(`http://127.0.0.1:${portOf(server)}/rt/api/publish`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-api-key': 'k' },
        body: JSON.stringify({ channel: 'a.b', data: { ok: true } }),
      });
      t.equal(res.status, 200);
      t.same((await hub.history('a.b')).messages, [{ offset: 1, data: { ok: true } }]);
      const rootRes = await fetch(`http://127.0.0.1:${portOf(rootServer)}/x`);
      t.equal(rootRes.status, 500, 'a root mount without prefix is a loud configuration error');
    },
  );
});

t.test('koa', async (t) => {
  t.test('authenticate gets a Koa context and reads signed cookies; routes see ctx.state.switchyard', async (t) => {
    const app = new Koa();
    app.keys = ['cookie-secret'];
    const hub = new Switchyard({
      authenticate: ({ raw }) => {
        const name = (raw as Koa.Context).cookies.get('user', { signed: true });
        return name ? { name } : null;
      },
    });
    const users: unknown[] = [];
    hub.on('connection', (c) => users.push(c.user));
    app.use(koaSwitchyard(hub));
    app.use(async (ctx) => {
      if (ctx.path === '/login') {
        ctx.cookies.set('user', 'bob', { signed: true });
        ctx.body = { hub: ctx.state.switchyard === hub };
      }
    });
    const server = await listen(app);
    attachKoa(hub, server, { path: '/realtime', app });
    t.teardown(async () => {
      await hub.close();
      await new Promise((r) => server.close(r));
    });
    const base = `127.0.0.1:${portOf(server)}`;
    const login = await fetch(`http://${base}/login`);
    t.same(await login.json(), { hub: true });
    const cookie = login.headers
      .getSetCookie()
      .map((c) => c.split(';')[0])
      .join('; ');
    t.equal(await rawUpgrade(`ws://${base}/realtime`), 401);
    t.equal(
      await rawUpgrade(`ws://${base}/realtime`, { headers: { cookie: 'user=bob' } }),
      401,
      'an unsigned cookie is not trusted',
    );
    t.equal(await rawUpgrade(`ws://${base}/realtime`, { headers: { cookie } }), 'open');
    t.same(users, [{ name: 'bob' }]);
  });

  t.test('the HTTP API authorize hook receives the Koa context', async (t) => {
    const app = new Koa();
    const hub = new Switchyard();
    app.use(
      koaSwitchyard(hub, {
        api: {
          authorize: ({ raw, action, channels }) =>
            (raw as Koa.Context).get('x-role') === 'admin' && action === 'publish' && channels[0] === 'a',
        },
      }),
    );
    const server = await listen(app);
    t.teardown(async () => {
      await hub.close();
      await new Promise((r) => server.close(r));
    });
    const pub = (role: string) =>
      fetch(`http://127.0.0.1:${portOf(server)}/realtime/api/publish`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-role': role },
        body: '{"channel":"a","data":1}',
      });
    t.equal((await pub('guest')).status, 403);
    t.equal((await pub('admin')).status, 200);
  });
});
