// switchyard on Koa 3: a chat page whose signed login cookie also authenticates the WebSocket
// (authenticate gets a Koa context), a publishing route using ctx.state.switchyard, and the
// HTTP API for other backends.
// Run from the repository root: npm run build && node examples/koa/server.mjs
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import Koa from 'koa';
import { Switchyard } from 'switchyardjs';
import { attach, switchyard } from 'switchyardjs/koa';

const here = (p) => fileURLToPath(new URL(p, import.meta.url));
const port = Number(process.env.PORT ?? 3000);
const host = process.env.HOST ?? '127.0.0.1';
const apiKey = process.env.SWITCHYARD_API_KEY ?? 'dev-key-change-me';

const app = new Koa();
app.keys = [process.env.COOKIE_SECRET ?? 'dev-cookie-secret-change-me'];

const hub = new Switchyard({
  channels: [{ match: 'chat.*', clientPublish: true }],
  // raw is a Koa context: the same signed cookie the routes read. No cookie: 401 before the handshake.
  authenticate: ({ raw }) => {
    const name = raw.cookies.get('user', { signed: true });
    return name ? { name } : null;
  },
});

app.use(switchyard(hub, { api: { apiKey } }));

// Routes (a router such as @koa/router works the same way).
async function readJson(ctx) {
  let text = '';
  for await (const chunk of ctx.req) if ((text += chunk).length > 4096) ctx.throw(413);
  try {
    return JSON.parse(text);
  } catch {
    return ctx.throw(400, 'invalid JSON');
  }
}
app.use(async (ctx) => {
  const user = ctx.cookies.get('user', { signed: true });
  if (ctx.method === 'GET' && ctx.path === '/') {
    ctx.type = 'html';
    ctx.body = await readFile(here('./index.html'));
  } else if (ctx.method === 'GET' && ctx.path === '/switchyard-client.js') {
    ctx.type = 'js';
    ctx.body = await readFile(here('../../dist/browser/switchyard-client.js'));
  } else if (ctx.method === 'GET' && ctx.path === '/me') {
    if (!user) ctx.throw(401, 'not logged in');
    ctx.body = { name: user };
  } else if (ctx.method === 'POST' && ctx.path === '/login') {
    const name = String((await readJson(ctx))?.name ?? '')
      .trim()
      .slice(0, 40);
    if (!name) ctx.throw(400, 'name required');
    ctx.cookies.set('user', name, { signed: true, httpOnly: true, sameSite: 'lax' });
    ctx.body = { name };
  } else if (ctx.method === 'POST' && ctx.path === '/announce') {
    // A backend route publishing to the room the browsers use, through the hub on ctx.state.
    if (!user) ctx.throw(401, 'not logged in');
    ctx.body = await ctx.state.switchyard.publish('chat.lobby', {
      from: 'server',
      text: `announcement requested by ${user}`,
    });
  }
});

const server = app.listen(port, host, () => {
  // The example test reads this line to find the port.
  console.log(`switchyard koa example listening on http://${host}:${server.address().port}`);
});
attach(hub, server, { path: '/realtime', app });

const stop = async () => {
  await hub.close();
  server.close(() => process.exit(0));
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
