// [HS-1] Every adapter mounts the HTTP-streaming endpoint at <path>/stream: a Node client on
// `transports: ['http-stream']` connects through Express, Koa and Fastify, authenticate receives
// the framework's own request as `raw` and the Bearer token, and a QoS 1 publish round-trips;
// the app's own routes still answer; httpStreaming: false leaves <path>/stream to the app.
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import websocket from '@fastify/websocket';
import express from 'express';
import Fastify from 'fastify';
import Koa from 'koa';
import t from 'tap';
import { connect, type Client, type Message } from '../../adapters/client-node.js';
import { attach as attachExpress } from '../../adapters/express.js';
import { switchyard as fastifySwitchyard } from '../../adapters/fastify.js';
import { attach as attachKoa } from '../../adapters/koa.js';
import { Switchyard } from '../../lib/hub.js';
import { once } from '../helpers/server.js';

const portOf = (s: Server): number => (s.address() as AddressInfo).port;
const listen = (app: { listen: (port: number, host: string, cb: () => void) => Server }): Promise<Server> =>
  new Promise((resolve) => {
    const s = app.listen(0, '127.0.0.1', () => resolve(s));
  });

function hubSeeing(raws: unknown[]): Switchyard {
  return new Switchyard({
    channels: [{ match: '>', clientPublish: true }],
    authenticate: ({ token, raw }) => {
      raws.push(raw);
      return token === 'ok' ? { id: 'u' } : null;
    },
  });
}

/** Connects over HTTP streaming only, subscribes, publishes at QoS 1 and returns what arrived. */
async function roundTrip(
  t: { teardown(fn: () => unknown): void },
  port: number,
): Promise<{ client: Client; got: unknown }> {
  const client = connect(`ws://127.0.0.1:${port}/realtime`, {
    token: 'ok',
    transports: ['http-stream'],
    reconnect: false,
  });
  t.teardown(() => client.close());
  await once(client, 'connected');
  let arrived!: (m: Message) => void;
  const got = new Promise<Message>((resolve) => (arrived = resolve));
  await client.subscribe('fw.1', arrived).ready;
  await client.publish('fw.1', 'hello', { qos: 1 });
  return { client, got: (await got).data };
}

t.test('express: the stream runs beside the app, authenticate gets an Express Request', async (t) => {
  const raws: unknown[] = [];
  const hub = hubSeeing(raws);
  const app = express();
  app.get('/hello', (_req, res) => void res.send('app'));
  const server = await listen(app);
  attachExpress(hub, server, { path: '/realtime', app });
  t.teardown(async () => {
    await hub.close();
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  });
  const { client, got } = await roundTrip(t, portOf(server));
  t.equal(got, 'hello');
  t.equal(client.transport, 'http-stream');
  t.equal(typeof (raws[0] as { get?: unknown }).get, 'function', 'raw is an Express Request');
  t.equal(await (await fetch(`http://127.0.0.1:${portOf(server)}/hello`)).text(), 'app');
});

t.test('koa: authenticate gets a Koa context', async (t) => {
  const raws: unknown[] = [];
  const hub = hubSeeing(raws);
  const app = new Koa();
  app.use((ctx) => void (ctx.body = 'app'));
  const server = await listen(app);
  attachKoa(hub, server, { path: '/realtime', app });
  t.teardown(async () => {
    await hub.close();
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  });
  const { got } = await roundTrip(t, portOf(server));
  t.equal(got, 'hello');
  t.ok((raws[0] as { cookies?: unknown }).cookies, 'raw is a Koa context');
  t.equal(await (await fetch(`http://127.0.0.1:${portOf(server)}/other`)).text(), 'app');
});

t.test('fastify: the stream is a route after the app hooks, authenticate gets the Fastify request', async (t) => {
  const raws: unknown[] = [];
  const hub = hubSeeing(raws);
  const app = Fastify();
  t.teardown(() => app.close());
  await app.register(websocket);
  await app.register(fastifySwitchyard, { hub });
  await app.listen({ port: 0, host: '127.0.0.1' });
  const { got } = await roundTrip(t, portOf(app.server));
  t.equal(got, 'hello');
  t.ok((raws[0] as { routeOptions?: unknown }).routeOptions, 'raw is a Fastify request');
  const refused = await fetch(`http://127.0.0.1:${portOf(app.server)}/realtime/stream?v=switchyard.v1`);
  t.equal(refused.status, 401, 'no token: refused before the stream opens');
});

t.test('httpStreaming: false leaves <path>/stream to the app', async (t) => {
  const hub = hubSeeing([]);
  const app = express();
  app.get('/realtime/stream', (_req, res) => void res.send('mine'));
  const server = await listen(app);
  attachExpress(hub, server, { path: '/realtime', httpStreaming: false });
  t.teardown(async () => {
    await hub.close();
    await new Promise((r) => server.close(r));
  });
  t.equal(await (await fetch(`http://127.0.0.1:${portOf(server)}/realtime/stream`)).text(), 'mine');
  t.throws(
    () => attachExpress(hub, server, { path: '/x', httpStreaming: 'yes' as unknown as boolean }),
    /httpStreaming/,
  );
});
