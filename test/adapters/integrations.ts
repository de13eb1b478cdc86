// One fixture per integration (bare node:http, Express, Fastify, Koa), each mounting the same hub
// options, the WebSocket endpoint at /realtime, the HTTP API at /realtime/api and a foreign `ws`
// echo endpoint at /other, so the looped suite can run identical test bodies over all four.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import websocket from '@fastify/websocket';
import express from 'express';
import Fastify, { type FastifyInstance } from 'fastify';
import Koa from 'koa';
import { WebSocketServer, type WebSocket } from 'ws';
import { Switchyard } from '../../lib/hub.js';
import type { SwitchyardOptions } from '../../lib/options.js';
import { attach as attachHttp, httpApi } from '../../adapters/http.js';
import { apiRouter, attach as attachExpress } from '../../adapters/express.js';
import { switchyard as fastifySwitchyard } from '../../adapters/fastify.js';
import { attach as attachKoa, switchyard as koaSwitchyard } from '../../adapters/koa.js';
import type { HttpApiOptions } from '../../adapters/http-api.js';

export const API_KEY = 'test-key-0123456789';
/** May read /metrics and /status only. */
export const OPS_KEY = 'ops-key-9876543210';
export const MAX_BODY = 4096;

export interface Running {
  name: string;
  hub: Switchyard;
  server: Server;
  port: number;
  /** ws:// URL of the switchyard endpoint. */
  url: string;
  /** http:// base of the HTTP API. */
  api: string;
  /** ws:// URL of the foreign echo endpoint. */
  otherUrl: string;
  /** Closes the server the way the framework does it (idempotent). */
  closeServer(): Promise<void>;
}

interface Teardown {
  teardown(fn: () => unknown): void;
}

/** Accepts token "good" (user "alice"); anything else is refused with 401. */
export const hubOptions = (): SwitchyardOptions => ({
  channels: [{ match: 'chat.*', clientPublish: true }],
  authenticate: (req) => (req.token === 'good' ? { name: 'alice' } : null),
  closeTimeout: 2_000,
});

const apiOptions: HttpApiOptions = { apiKey: API_KEY, maxBodyBytes: MAX_BODY, operationsKey: OPS_KEY, admin: true };

// A foreign WebSocket endpoint sharing the server: echoes each message back prefixed with "echo:".
function echo(ws: WebSocket): void {
  ws.on('message', (m) => ws.send(`echo:${m.toString()}`));
}

function otherUpgradeListener(server: Server): void {
  const wss = new WebSocketServer({ noServer: true });
  server.on('upgrade', (req, socket, head) => {
    if (req.url === '/other') wss.handleUpgrade(req, socket, head, echo);
  });
  server.on('close', () => wss.close());
}

const listen = (server: Server): Promise<number> =>
  new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port)));

const closeNode = (server: Server): Promise<void> =>
  new Promise((resolve) => (server.listening ? server.close(() => resolve()) : resolve()));

type Start = (hub: Switchyard) => Promise<{ server: Server; closeServer: () => Promise<void> }>;

const starters: Record<string, Start> = {
  async http(hub) {
    const api = httpApi(hub, apiOptions);
    const server = createServer((req, res) => {
      if (!api(req, res)) res.writeHead(404).end();
    });
    attachHttp(hub, server, { path: '/realtime' });
    otherUpgradeListener(server);
    await listen(server);
    return { server, closeServer: () => closeNode(server) };
  },
  async express(hub) {
    const app = express();
    app.use('/realtime/api', apiRouter(hub, apiOptions));
    app.use((_req, res) => void res.status(404).end());
    const server = await new Promise<Server>((resolve) => {
      const s = app.listen(0, '127.0.0.1', () => resolve(s));
    });
    attachExpress(hub, server, { path: '/realtime' });
    otherUpgradeListener(server);
    return { server, closeServer: () => closeNode(server) };
  },
  async fastify(hub) {
    const app: FastifyInstance = Fastify();
    await app.register(websocket);
    await app.register(fastifySwitchyard, { hub, path: '/realtime', api: apiOptions });
    // With @fastify/websocket every upgrade goes through Fastify routing: another endpoint is a route.
    app.get('/other', { websocket: true }, (socket) => echo(socket));
    await app.listen({ port: 0, host: '127.0.0.1' });
    let closing: Promise<void> | undefined;
    return { server: app.server, closeServer: () => (closing ??= app.close()) };
  },
  async koa(hub) {
    const app = new Koa();
    app.use(koaSwitchyard(hub, { api: apiOptions }));
    const server = await new Promise<Server>((resolve) => {
      const s = app.listen(0, '127.0.0.1', () => resolve(s));
    });
    attachKoa(hub, server, { path: '/realtime', app });
    otherUpgradeListener(server);
    return { server, closeServer: () => closeNode(server) };
  },
};

export const INTEGRATIONS = Object.keys(starters);

/** Starts `name` with a fresh hub; closes hub and server in teardown. */
export async function start(t: Teardown, name: string, options: SwitchyardOptions = hubOptions()): Promise<Running> {
  const hub = new Switchyard(options);
  const { server, closeServer } = await starters[name]!(hub);
  const port = (server.address() as AddressInfo).port;
  t.teardown(async () => {
    await hub.close();
    await closeServer();
  });
  return {
    name,
    hub,
    server,
    port,
    url: `ws://127.0.0.1:${port}/realtime`,
    api: `http://127.0.0.1:${port}/realtime/api`,
    otherUrl: `ws://127.0.0.1:${port}/other`,
    closeServer,
  };
}
