// [BIN-*] Binary payloads end to end over real sockets: bytes published from the SDK (WebSocket
// and HTTP streaming), from hub.publish and from the HTTP API (application/octet-stream) arrive
// byte-identical as Uint8Array, are stored and replayed from history, and are limited by their
// own size (not their base64's).
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import t from 'tap';
import { connect, type Client, type Message } from '../../adapters/client-node.js';
import { attach } from '../../adapters/http.js';
import { httpApi } from '../../adapters/http-api.js';
import { Switchyard } from '../../lib/hub.js';
import { once } from '../helpers/server.js';

const KEY = 'k-0123456789';

/** A Yjs-style update: arbitrary bytes including 0x00 and 0xff, not valid UTF-8. */
function update(n: number, seed = 7): Uint8Array {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = (i * seed + (i >> 3)) & 0xff;
  b[0] = 0;
  if (n > 1) b[1] = 0xff;
  return b;
}

async function serve(t: { teardown(fn: () => unknown): void }, limits = {}) {
  const hub = new Switchyard({ channels: [{ match: '>', clientPublish: true }], limits });
  const api = httpApi(hub, { apiKey: KEY });
  const server = createServer((req, res) => api(req, res, () => res.writeHead(404).end()));
  attach(hub, server, { path: '/realtime' });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.teardown(async () => {
    await hub.close();
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  });
  const port = (server.address() as AddressInfo).port;
  return { hub, port, url: `ws://127.0.0.1:${port}/realtime`, api: `http://127.0.0.1:${port}/realtime/api` };
}

function client(
  t: { teardown(fn: () => unknown): void },
  url: string,
  transports: ('websocket' | 'http-stream')[] = ['websocket'],
): Client {
  const c = connect(url, { transports, reconnect: { minDelay: 20, maxDelay: 200 } });
  t.teardown(() => c.close());
  return c;
}

for (const transport of ['websocket', 'http-stream'] as const) {
  t.test(
    `over ${transport}: bytes published by the SDK at QoS 1 arrive byte-identical and replay from history`,
    async (t) => {
      const s = await serve(t);
      const pub = client(t, s.url, [transport]);
      const sub = client(t, s.url, [transport]);
      await Promise.all([once(pub, 'connected'), once(sub, 'connected')]);
      const got: Message[] = [];
      let arrived!: () => void;
      const both = new Promise<void>((r) => (arrived = r));
      await sub.subscribe(
        'doc.1',
        (m) => {
          got.push(m);
          if (got.length === 2) arrived();
        },
        { qos: 1 },
      ).ready;
      const u = update(1000);
      const ack = await pub.publish('doc.1', u, { qos: 1 });
      // An ArrayBuffer and a view on part of a larger buffer are bytes too.
      const big = update(64);
      await pub.publish('doc.1', new DataView(big.buffer, 8, 16));
      await both;
      t.ok(got[0]!.data instanceof Uint8Array, 'a Uint8Array');
      t.same(Array.from(got[0]!.data as Uint8Array), Array.from(u), 'byte-identical');
      t.same(Array.from(got[1]!.data as Uint8Array), Array.from(big.subarray(8, 24)), 'only the bytes of the view');
      t.equal(ack.offset, 1);
      const hist = await sub.history('doc.1');
      t.same(Array.from(hist.messages[0]!.data as Uint8Array), Array.from(u), 'the SDK history returns the bytes');
      t.notOk('bin' in hist.messages[0]!);
      const page = await s.hub.history('doc.1');
      t.same(Array.from(page.messages[0]!.data as Uint8Array), Array.from(u), 'hub.history returns the bytes');
    },
  );
}

t.test(
  'hub.publish and the HTTP API (application/octet-stream) publish bytes; API history returns them as base64 bin',
  async (t) => {
    const s = await serve(t);
    const sub = client(t, s.url);
    await once(sub, 'connected');
    let received!: (m: Message) => void;
    const first = new Promise<Message>((r) => (received = r));
    await sub.subscribe('y.1', received).ready;
    await s.hub.publish('y.1', update(300).buffer);
    t.same(Array.from((await first).data as Uint8Array), Array.from(update(300)), 'an ArrayBuffer from hub.publish');
    const res = await fetch(`${s.api}/publish?channel=y.1`, {
      method: 'POST',
      headers: { 'content-type': 'application/octet-stream', authorization: `Bearer ${KEY}`, 'idempotency-key': 'k1' },
      body: Buffer.from(update(50, 3)),
    });
    t.equal(res.status, 200);
    t.equal((await res.json()).offset, 2);
    const again = await fetch(`${s.api}/publish?channel=y.1`, {
      method: 'POST',
      headers: { 'content-type': 'application/octet-stream', authorization: `Bearer ${KEY}`, 'idempotency-key': 'k1' },
      body: Buffer.from(update(50, 3)),
    });
    t.equal(again.headers.get('idempotent-replayed'), 'true', 'idempotency keys work for bytes too');
    const hist = await (
      await fetch(`${s.api}/history?channel=y.1`, { headers: { authorization: `Bearer ${KEY}` } })
    ).json();
    t.same(
      hist.messages.map((m: { offset: number; bin?: string }) => [
        m.offset,
        m.bin && Buffer.from(m.bin, 'base64').length,
      ]),
      [
        [1, 300],
        [2, 50],
      ],
    );
    t.same([...Buffer.from(hist.messages[1].bin, 'base64')], Array.from(update(50, 3)));
    const noChannel = await fetch(`${s.api}/publish`, {
      method: 'POST',
      headers: { 'content-type': 'application/octet-stream', authorization: `Bearer ${KEY}` },
      body: Buffer.from(update(5)),
    });
    t.equal(noChannel.status, 400);
  },
);

t.test(
  'limits count the bytes, not their base64: exactly maxMessageBytes passes, one more is refused everywhere',
  async (t) => {
    const max = 3000;
    const s = await serve(t, { maxMessageBytes: max });
    const c = client(t, s.url);
    await once(c, 'connected');
    t.equal(
      (await c.publish('z.1', update(max))).offset,
      1,
      'the SDK publishes maxMessageBytes bytes (4,000 characters of base64)',
    );
    await t.rejects(c.publish('z.1', update(max + 1)), { code: 104 });
    await t.resolves(s.hub.publish('z.1', update(max)));
    await t.rejects(s.hub.publish('z.1', update(max + 1)), { code: 104 });
    const res = await fetch(`${s.api}/publish?channel=z.1`, {
      method: 'POST',
      headers: { 'content-type': 'application/octet-stream', authorization: `Bearer ${KEY}` },
      body: Buffer.from(update(max + 1)),
    });
    t.equal(res.status, 413);
  },
);

t.test('a bin field that is not base64, or beside data, is a bad frame', async (t) => {
  const s = await serve(t);
  const { WebSocket } = await import('ws');
  const ws = new WebSocket(s.url, ['switchyard.v1']);
  t.teardown(() => ws.terminate());
  const frames: { op: string; id?: number; code?: number }[] = [];
  let waiting: (() => void) | undefined;
  ws.on('message', (d) => {
    frames.push(JSON.parse(String(d)));
    waiting?.();
  });
  await once(ws, 'open');
  const reply = (id: number) =>
    new Promise<{ code?: number; op: string }>((resolve) => {
      const check = () => {
        const f = frames.find((x) => x.id === id);
        if (f) resolve(f);
      };
      waiting = check;
      check();
    });
  ws.send(JSON.stringify({ op: 'pub', id: 1, ch: 'a.b', bin: 'not base64!' }));
  t.equal((await reply(1)).code, 101);
  ws.send(JSON.stringify({ op: 'pub', id: 2, ch: 'a.b', bin: 'AAAA', data: 1 }));
  t.equal((await reply(2)).code, 101);
  ws.send(JSON.stringify({ op: 'pub', id: 3, ch: 'a.b', bin: 'AAECAw==' }));
  t.equal((await reply(3)).op, 'ok');
  t.same(Array.from((await s.hub.history('a.b')).messages[0]!.data as Uint8Array), [0, 1, 2, 3]);
});
