// Takes docs/admin-page.png: a hub with a little traffic (chat rooms, a score feed, a refused
// token, a few closes), its admin page in headless Chromium. Run after `npm run build`:
//   node scripts/admin-screenshot.mjs [out.png]
import { createServer } from 'node:http';
import { chromium } from 'playwright-core';
import { Switchyard } from 'switchyardjs';
import { attach, httpApi } from 'switchyardjs/http';
import { connect } from 'switchyardjs/client';

const out = process.argv[2] ?? new URL('../docs/admin-page.png', import.meta.url).pathname;
const KEY = 'screenshot-key';
const hub = new Switchyard({
  channels: [{ match: 'chat.*', clientPublish: true }, { match: 'scores.>' }],
  authenticate: ({ token }) => (token?.startsWith('user-') ? { id: token.slice(5) } : null),
  logger: { debug() {}, info() {}, warn() {}, error() {} },
});
const api = httpApi(hub, { apiKey: KEY, admin: true });
const server = createServer((req, res) => void (api(req, res) || res.writeHead(404).end()));
attach(hub, server, { path: '/realtime' });
await new Promise((r) => server.listen(0, '127.0.0.1', r));
const base = `http://127.0.0.1:${server.address().port}`;
const wsUrl = base.replace('http', 'ws') + '/realtime';

const open = (token) =>
  new Promise((resolve) => {
    const c = connect(wsUrl, { token, reconnect: false });
    c.once('connected', () => resolve(c));
  });
const clients = [];
for (let i = 0; i < 12; i++) clients.push(await open(`user-${['ann', 'bo', 'cy', 'di', 'ed', 'flo'][i % 6]}${i}`));
const rooms = ['chat.lobby', 'chat.support', 'chat.dev'];
await Promise.all(clients.map((c, i) => c.subscribe(rooms[i % 3], () => {}).ready));
await Promise.all(clients.slice(0, 8).map((c) => c.subscribe('scores.football.live', () => {}).ready));
// A refused token and two clients that leave, so errors and closes have something to show.
connect(wsUrl, { token: 'stolen', reconnect: false }).on('error', () => {});
(await open('user-gone1')).close();
(await open('user-gone2')).close();
hub.log('warn', { err: new Error('ECONNRESET') }, 'broker publish failed');

let n = 0;
const traffic = setInterval(() => {
  void hub.publish('scores.football.live', { home: n % 5, away: n % 3 });
  void clients[n % 12].publish(rooms[n % 3], { text: `message ${n}` });
  if (n % 3 === 0) void clients[0].publish('chat.lobby', { text: 'busy' });
  n++;
}, 40);

const browser = await chromium.launch({
  executablePath: '/usr/bin/chromium',
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking'],
});
const page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
await page.goto(`${base}/realtime/api/admin`);
await page.fill('#key', KEY);
await page.click('#login button');
await page.waitForSelector('#channels td');
await page.waitForTimeout(2500); // two polls, so rates are shown
await page.screenshot({ path: out, fullPage: true });
console.log(`wrote ${out}`);
clearInterval(traffic);
await browser.close();
for (const c of clients) c.close();
await hub.close();
server.close();
