// switchyard on Express 5: a chat page whose login session also authenticates the WebSocket,
// a publishing route, and the HTTP API for other backends.
// Run from the repository root: npm run build && node examples/express/server.mjs
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import express from 'express';
import { Switchyard } from 'switchyardjs';
import { apiRouter, attach, runMiddleware } from 'switchyardjs/express';

const here = (p) => fileURLToPath(new URL(p, import.meta.url));
const port = Number(process.env.PORT ?? 3000);
const host = process.env.HOST ?? '127.0.0.1';
const apiKey = process.env.SWITCHYARD_API_KEY ?? 'dev-key-change-me';

// The app's own session middleware: a cookie names a session kept in memory. express-session,
// cookie-session or passport plug in the same way.
const sessions = new Map();
function session(req, _res, next) {
  const sid = /(?:^|;\s*)sid=([\w-]+)/.exec(req.headers.cookie ?? '')?.[1];
  req.user = sid ? sessions.get(sid) : undefined;
  next();
}

const hub = new Switchyard({
  channels: [{ match: 'chat.*', clientPublish: true }],
  // Runs before the WebSocket handshake, with the same session middleware as every route.
  // No session: null, so the upgrade is refused with 401 and no socket is opened.
  authenticate: async ({ raw }) => ((await runMiddleware(raw, session)) ? (raw.user ?? null) : null),
});

const app = express();
app.use(session);
app.use('/realtime/api', apiRouter(hub, { apiKey }));
app.use(express.json());

app.get('/', (_req, res) => res.sendFile(here('./index.html')));
app.get('/switchyard-client.js', (_req, res) => res.sendFile(here('../../dist/browser/switchyard-client.js')));
app.get('/me', (req, res) => (req.user ? res.json(req.user) : res.status(401).json({ error: 'not logged in' })));
app.post('/login', (req, res) => {
  const name = String(req.body?.name ?? '')
    .trim()
    .slice(0, 40);
  if (!name) return res.status(400).json({ error: 'name required' });
  const sid = randomUUID();
  sessions.set(sid, { name });
  res.cookie('sid', sid, { httpOnly: true, sameSite: 'lax' }).json({ name });
});
// A backend route publishing to the room the browsers use.
app.post('/announce', async (req, res) => {
  if (!req.user) return res.status(401).json({ error: 'not logged in' });
  res.json(await hub.publish('chat.lobby', { from: 'server', text: `announcement requested by ${req.user.name}` }));
});

const server = app.listen(port, host, () => {
  // The example test reads this line to find the port.
  console.log(`switchyard express example listening on http://${host}:${server.address().port}`);
});
attach(hub, server, { path: '/realtime', app }); // app: authenticate gets an Express Request

const stop = async () => {
  await hub.close();
  server.close(() => process.exit(0));
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
