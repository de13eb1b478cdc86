// The switchyard demo: a chat page on a bare node:http server, in-memory engine, no other service.
// Run from the repository root: npm start  (then open http://localhost:3000)
import { createServer } from 'node:http';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { Switchyard } from 'switchyardjs';
import { attach, httpApi } from 'switchyardjs/http';

const here = (p) => fileURLToPath(new URL(p, import.meta.url));
const port = Number(process.env.PORT ?? 3000);
const host = process.env.HOST ?? '127.0.0.1';

// Each tab connects with its display name as the token (a real app would send a session token
// and look the user up). No valid name: 401 before the WebSocket handshake.
const NAME = /^[\p{L}\p{N} _.-]{1,24}$/u;

const hub = new Switchyard({
  // Clients may publish to chat.* rooms and see who is there; everything else is server-only.
  channels: [{ match: 'chat.*', clientPublish: true, presence: true }],
  authenticate: ({ token }) => (token && NAME.test(token.trim()) ? { name: token.trim() } : null),
  // What other tabs see about a member of the room: only the name.
  presenceInfo: (user) => ({ name: user.name }),
});

// The HTTP API for backends without a WebSocket (docs/http-api.md), protected by an API key.
const api = httpApi(hub, { prefix: '/realtime/api', apiKey: process.env.SWITCHYARD_API_KEY ?? 'dev-key-change-me' });

const server = createServer(async (req, res) => {
  if (api(req, res)) return;
  const path = new URL(req.url ?? '/', 'http://x').pathname;
  if (path === '/' || path === '/index.html') {
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
    res.end(await readFile(here('./index.html')));
  } else if (path === '/switchyard-client.js') {
    res.writeHead(200, { 'content-type': 'text/javascript; charset=utf-8' });
    res.end(await readFile(here('../../dist/browser/switchyard-client.min.js')));
  } else if (path === '/favicon.ico') {
    res.writeHead(204).end();
  } else if (req.method === 'POST' && path === '/announce') {
    // A backend route publishing to the same room the browsers use.
    const result = await hub.publish('chat.lobby', { from: 'server', text: 'announcement' });
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify(result));
  } else {
    res.writeHead(404).end('not found');
  }
});

attach(hub, server, { path: '/realtime' });

server.listen(port, host, () => {
  const { port: actual } = server.address();
  // The test harness reads this line to find the port.
  console.log(`switchyard demo listening on http://${host}:${actual}`);
});

const stop = async () => {
  await hub.close();
  server.close(() => process.exit(0));
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
