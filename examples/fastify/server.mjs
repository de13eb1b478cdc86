// switchyard on Fastify 5: a chat page whose login cookie is checked by an app-wide onRequest
// hook — which also runs for the WebSocket upgrade, before the handshake — a publishing route,
// and the HTTP API for other backends.
// Run from the repository root: npm run build && node examples/fastify/server.mjs
import { randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import websocket from '@fastify/websocket';
import Fastify from 'fastify';
import switchyard from 'switchyardjs/fastify';

const here = (p) => fileURLToPath(new URL(p, import.meta.url));
const port = Number(process.env.PORT ?? 3000);
const host = process.env.HOST ?? '127.0.0.1';
const apiKey = process.env.SWITCHYARD_API_KEY ?? 'dev-key-change-me';

const app = Fastify({ logger: { level: process.env.LOG_LEVEL ?? 'info' } });

// The app's own auth: a cookie names a session kept in memory (@fastify/cookie and
// @fastify/session plug in the same way).
const sessions = new Map();
app.decorateRequest('user', null);
app.addHook('onRequest', async (req, reply) => {
  const sid = /(?:^|;\s*)sid=([\w-]+)/.exec(req.headers.cookie ?? '')?.[1];
  req.user = (sid && sessions.get(sid)) ?? null;
  // Guards the WebSocket route too: @fastify/websocket routes upgrades through Fastify, so an
  // anonymous upgrade gets this 401 before any handshake.
  if (req.url.startsWith('/realtime') && !req.url.startsWith('/realtime/api') && !req.user) {
    return reply.code(401).send({ error: 'log in first' });
  }
});

await app.register(websocket);
await app.register(switchyard, {
  path: '/realtime',
  api: { apiKey },
  hubOptions: {
    channels: [{ match: 'chat.*', clientPublish: true }],
    // raw is the Fastify request the hooks above decorated.
    authenticate: ({ raw }) => raw.user,
  },
});

const file = (p, type) => async (_req, reply) => reply.type(type).send(await readFile(here(p)));
app.get('/', file('./index.html', 'text/html; charset=utf-8'));
app.get('/switchyard-client.js', file('../../dist/browser/switchyard-client.js', 'text/javascript; charset=utf-8'));
app.get('/me', async (req, reply) => (req.user ? req.user : reply.code(401).send({ error: 'not logged in' })));
app.post('/login', async (req, reply) => {
  const name = String(req.body?.name ?? '')
    .trim()
    .slice(0, 40);
  if (!name) return reply.code(400).send({ error: 'name required' });
  const sid = randomUUID();
  sessions.set(sid, { name });
  return reply.header('set-cookie', `sid=${sid}; HttpOnly; SameSite=Lax; Path=/`).send({ name });
});
// A backend route publishing to the room the browsers use, through the decorated hub.
app.post('/announce', async (req, reply) => {
  if (!req.user) return reply.code(401).send({ error: 'not logged in' });
  return app.switchyard.publish('chat.lobby', { from: 'server', text: `announcement requested by ${req.user.name}` });
});

await app.listen({ port, host });
// The example test reads this line to find the port.
console.log(`switchyard fastify example listening on http://${host}:${app.server.address().port}`);

// fastify.close() closes the WebSocket clients (1001) in preClose, then the server.
const stop = async () => {
  await app.close();
  process.exit(0);
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
