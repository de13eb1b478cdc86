// Runs every example as a user would (node examples/<name>/server.mjs, importing switchyard from
// dist through the package's own exports), connects a Node client, exchanges messages over the
// WebSocket, the example's publishing route and (where mounted) the HTTP API, then stops it by PID.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { WebSocket } from 'ws';
import type { ClientOptions } from '../adapters/client-node.js';
import { connectClient } from './helpers/server.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const KEY = 'example-test-key';

interface Example {
  name: string;
  /** Needs POST /login first; the session cookie authenticates the WebSocket. */
  login: boolean;
  /** Mounts the HTTP API at /realtime/api. */
  api: boolean;
  /** The demo: the tab's name is the token, the room has presence and history, and no favicon 404. */
  demo?: boolean;
}

const EXAMPLES: Example[] = [
  { name: 'http', login: false, api: false, demo: true },
  { name: 'express', login: true, api: true },
  { name: 'fastify', login: true, api: true },
  { name: 'koa', login: true, api: true },
];

/** Resolves with the base URL the example prints; rejects if it exits or stays silent for 15 s. */
function listening(child: ChildProcess, name: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${name}: no "listening on" line within 15 s`)), 15_000);
    let stderr = '';
    child.stderr!.on('data', (c) => (stderr += c));
    createInterface({ input: child.stdout! }).on('line', (line) => {
      const m = /listening on (http:\/\/\S+)/.exec(line);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]!);
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${name} exited with ${code} before listening: ${stderr}`));
    });
  });
}

/** A `ws` constructor that sends the session cookie with the upgrade, as a browser would. */
const withCookie = (cookie: string): ClientOptions['WebSocket'] =>
  class extends WebSocket {
    constructor(url: string, protocols: string[]) {
      super(url, protocols, { headers: { cookie } });
    }
  } as unknown as ClientOptions['WebSocket'];

/** Upgrade status without a cookie: the refusal status, or 'open'. */
function anonymousUpgrade(url: string): Promise<number | 'open'> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, ['switchyard.v1']);
    ws.on('unexpected-response', (_req, res) => {
      resolve(res.statusCode ?? 0);
      ws.terminate();
    });
    ws.on('open', () => {
      resolve('open');
      ws.close();
    });
    ws.on('error', reject);
  });
}

t.before(() => {
  if (!existsSync(`${root}dist/adapters/koa.js`) || !existsSync(`${root}dist/browser/switchyard-client.js`)) {
    throw new Error('dist is missing: run `npm run build` first (npm test does)');
  }
});

for (const ex of EXAMPLES) {
  t.test(`examples/${ex.name} starts, exchanges messages with a Node client, and stops on SIGTERM`, async (t) => {
    const child = spawn(process.execPath, [`examples/${ex.name}/server.mjs`], {
      cwd: root,
      env: { ...process.env, PORT: '0', HOST: '127.0.0.1', SWITCHYARD_API_KEY: KEY, LOG_LEVEL: 'warn' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    t.teardown(() => {
      if (child.exitCode === null && child.signalCode === null) process.kill(child.pid!, 'SIGKILL');
    });
    const base = await listening(child, ex.name);
    const wsUrl = base.replace('http:', 'ws:') + '/realtime';

    const page = await fetch(`${base}/`);
    t.equal(page.status, 200);
    t.match(await page.text(), /switchyard chat/);
    t.equal((await fetch(`${base}/switchyard-client.js`)).status, 200, 'serves the browser client bundle');

    let cookie = '';
    if (ex.login) {
      t.equal(await anonymousUpgrade(wsUrl), 401, 'an anonymous upgrade is refused before the handshake');
      const login = await fetch(`${base}/login`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: '{"name":"tester"}',
      });
      t.equal(login.status, 200);
      cookie = login.headers
        .getSetCookie()
        .map((c) => c.split(';')[0])
        .join('; ');
    }

    if (ex.demo) {
      t.equal(await anonymousUpgrade(wsUrl), 401, 'a connection without a name is refused before the handshake');
      t.equal((await fetch(`${base}/favicon.ico`)).status, 204, 'no favicon 404');
      t.equal((await fetch(`${base}/?name=alice`)).status, 200, 'the page with a name in the query');
    }
    const client = await connectClient(
      t,
      wsUrl,
      cookie ? { WebSocket: withCookie(cookie) } : ex.demo ? { token: 'tester' } : {},
    );
    const received: Array<{ from: string; text: string }> = [];
    const waiters: Array<() => void> = [];
    const sub = client.subscribe('chat.lobby', (m) => {
      received.push(m.data as { from: string; text: string });
      waiters.shift()?.();
    });
    await sub.ready;
    const next = () => new Promise<void>((resolve) => waiters.push(resolve));

    let arrived = next();
    await client.publish('chat.lobby', { from: 'tester', text: 'hello over ws' });
    await arrived;

    arrived = next();
    const announce = await fetch(`${base}/announce`, { method: 'POST', headers: cookie ? { cookie } : {} });
    t.equal(announce.status, 200);
    await arrived;

    if (ex.api) {
      arrived = next();
      const res = await fetch(`${base}/realtime/api/publish`, {
        method: 'POST',
        headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' },
        body: JSON.stringify({ channel: 'chat.lobby', data: { from: 'backend', text: 'hello over http' } }),
      });
      t.equal(res.status, 200);
      await arrived;
    }

    t.same(
      received.map((m) => m.from),
      ex.api ? ['tester', 'server', 'backend'] : ['tester', 'server'],
    );
    t.equal(received[0]!.text, 'hello over ws');

    if (ex.demo) {
      // What the page does on load and for its "here now" list.
      const history = await client.history('chat.lobby', { limit: 50 });
      t.same(
        history.messages.map((m) => (m.data as { from: string }).from),
        ['tester', 'server'],
        'the room keeps its history for a page that loads later',
      );
      const { members } = await client.presence('chat.lobby');
      t.same(
        members.map((m) => m.info),
        [{ name: 'tester' }],
        'members are listed by name only',
      );
    }

    client.close();
    process.kill(child.pid!, 'SIGTERM');
    t.equal(await exited, 0, 'exits cleanly on SIGTERM');
  });
}
