// [HS-*] in real headless Chromium: behind the test's own proxy, which answers every WebSocket
// upgrade with 403, the browser bundle falls back to HTTP streaming (fetch + SSE framing, POSTs
// upstream), receives, publishes at QoS 1, and recovers what it missed after the stream is cut.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { connect, type Message } from '../../adapters/client-node.js';
import { attach } from '../../adapters/http.js';
import { Switchyard } from '../../lib/hub.js';
import { haveChromium, launchChromium, servePage } from '../helpers/chromium.js';
import { startProxy } from '../helpers/proxy.js';
import { once } from '../helpers/server.js';

const FULL_BUNDLE = fileURLToPath(new URL('../../dist/browser/switchyard-client-full.js', import.meta.url));

const page = `<!doctype html><meta charset="utf-8"><link rel="icon" href="data:,"><body><script type="module">
import { connect } from '/switchyard-client-full.js';
const r = (window.result = { states: [], got: [], transport: null, acks: [] });
const client = (window.client = connect('ws://' + location.host + '/realtime', { transports: ['websocket', 'http-stream'], reconnect: { minDelay: 10, maxDelay: 100 } }));
client.on('state', (s) => r.states.push(s));
client.on('connected', () => (r.transport = client.transport));
client.subscribe('room.1', (m) => r.got.push(m.data), { qos: 1 }).ready.then(() => (r.ready = true));
window.publish = (data) => client.publish('room.1', data, { qos: 1 }).then((a) => r.acks.push(a.offset));
// Bytes: what arrives on doc.1, and what history says, as plain arrays plus their type.
r.bytes = [];
client.subscribe('doc.1', (m) => r.bytes.push([m.data.constructor.name, Array.from(m.data)]));
window.historyBytes = () => client.history('doc.1').then((h) => h.messages.map((m) => [m.data.constructor.name, Array.from(m.data)]));
window.publishBytes = () => client.publish('doc.1', new Uint8Array([0, 255, 1, 254, 128]), { qos: 1 });
</script>`;

interface PageResult {
  states: string[];
  got: unknown[];
  transport: string | null;
  ready?: boolean;
  acks: number[];
}

if (haveChromium(t)) {
  t.test(
    'Chromium whose WebSockets are refused falls back to HTTP streaming, receives, publishes at QoS 1 and recovers after a cut',
    async (t) => {
      const hub = new Switchyard({ channels: [{ match: '>', clientPublish: true }] });
      const server = createServer();
      servePage(server, page, (req, res) => {
        if (!req.url?.startsWith('/switchyard-client-full.js')) return false;
        res.setHeader('content-type', 'text/javascript').end(readFileSync(FULL_BUNDLE));
        return true;
      });
      // Attached after the page handler, so the stream endpoint is in front of it.
      attach(hub, server, { path: '/realtime' });
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      t.teardown(async () => {
        await hub.close();
        server.closeAllConnections();
        await new Promise<void>((resolve) => server.close(() => resolve()));
      });
      const port = (server.address() as AddressInfo).port;
      const proxy = await startProxy(t, [port]);

      const node = connect(`ws://127.0.0.1:${port}/realtime`, { reconnect: false });
      t.teardown(() => node.close());
      await once(node, 'connected');
      const fromPage: Message[] = [];
      let pageSent!: () => void;
      const sent = new Promise<void>((resolve) => (pageSent = resolve));
      await node.subscribe('room.1', (m) => {
        fromPage.push(m);
        if (m.data === 'from chromium') pageSent();
      }).ready;

      const browser = await launchChromium(t);
      const tab = await browser.newPage();
      const pageErrors: string[] = [];
      tab.on('pageerror', (e) => pageErrors.push(e.message));
      await tab.goto(`http://127.0.0.1:${proxy.port}/`);
      await tab.waitForFunction(() => (window as unknown as { result: PageResult }).result.ready === true, undefined, {
        timeout: 15_000,
      });
      const result = () => tab.evaluate(() => (window as unknown as { result: PageResult }).result);
      t.equal((await result()).transport, 'http-stream', 'the page fell back to HTTP streaming');
      t.ok(proxy.refusedUpgrades >= 1, 'after the proxy refused its upgrade');

      await hub.publish('room.1', { n: 1 });
      await tab.waitForFunction(
        () => (window as unknown as { result: PageResult }).result.got.length === 1,
        undefined,
        { timeout: 10_000 },
      );

      await tab.evaluate(() => (window as unknown as { publish(d: unknown): Promise<void> }).publish('from chromium'));
      await sent;
      t.same((await result()).acks, [2], 'the QoS 1 publish was acknowledged with its offset');

      // Cut the stream; publish while the page is away; it reconnects and recovers in order.
      const states = (await result()).states.length;
      proxy.cut();
      await tab.waitForFunction((n) => (window as unknown as { result: PageResult }).result.states.length > n, states, {
        timeout: 10_000,
      });
      await hub.publish('room.1', { n: 3 });
      await hub.publish('room.1', { n: 4 });
      await tab.waitForFunction(
        () => (window as unknown as { result: PageResult }).result.got.length === 4,
        undefined,
        { timeout: 15_000 },
      );
      const r = await result();
      t.same(r.got, [{ n: 1 }, 'from chromium', { n: 3 }, { n: 4 }], 'everything once, in order, across the cut');
      t.ok(r.states.includes('reconnecting'), 'the cut was seen as a disconnect');
      t.equal(r.transport, 'http-stream');

      // A Yjs-style update published from Node arrives byte-identical, and so does history; bytes
      // published by the page arrive byte-identical in Node.
      const yjsUpdate = new Uint8Array([
        1, 1, 177, 228, 214, 201, 6, 0, 4, 1, 4, 116, 101, 120, 116, 1, 104, 0, 255, 0,
      ]);
      await hub.publish('doc.1', yjsUpdate);
      await tab.waitForFunction(
        () => (window as unknown as { result: { bytes: unknown[] } }).result.bytes.length === 1,
        undefined,
        { timeout: 10_000 },
      );
      const inPage = await tab.evaluate(() => (window as unknown as { result: { bytes: unknown[] } }).result.bytes);
      t.same(inPage, [['Uint8Array', Array.from(yjsUpdate)]], 'a Uint8Array in the browser, byte-identical');
      t.same(
        await tab.evaluate(() => (window as unknown as { historyBytes(): Promise<unknown> }).historyBytes()),
        [['Uint8Array', Array.from(yjsUpdate)]],
        'and from history',
      );
      await tab.evaluate(() => (window as unknown as { publishBytes(): Promise<unknown> }).publishBytes());
      const stored = await hub.history('doc.1');
      t.same(
        Array.from(stored.messages[1]!.data as Uint8Array),
        [0, 255, 1, 254, 128],
        'bytes from the browser are stored byte-identical',
      );
      t.same(pageErrors, []);
    },
  );
}
