import t from 'tap';
import {
  CLIENT_ERROR,
  CLOSE,
  Client,
  type ClientError,
  type ClientTransport,
  type TransportEvents,
} from '../../lib/client/index.js';

interface FakeConnection {
  url: string;
  token: string | undefined;
  on: TransportEvents;
  sent: Array<Record<string, unknown>>;
  closed?: { code: number; reason: string };
}

/** A transport with no network: the test plays the server through `on`. */
function fakeTransport() {
  const conns: FakeConnection[] = [];
  const waiters: Array<(c: FakeConnection) => void> = [];
  const transport: ClientTransport = {
    checkUrl: (url) => (url.startsWith('fake://') ? undefined : 'must start with fake://'),
    open(url, token, on) {
      const c: FakeConnection = { url, token, on, sent: [] };
      conns.push(c);
      queueMicrotask(() => waiters.shift()?.(c));
      return {
        send: (text) => (c.closed ? false : (c.sent.push(JSON.parse(text)), true)),
        close: (code, reason) => void (c.closed = { code, reason }),
      };
    },
  };
  const next = (): Promise<FakeConnection> => new Promise((resolve) => waiters.push(resolve));
  return { transport, conns, next };
}

const welcome = (c: FakeConnection): void =>
  c.on.frame(JSON.stringify({ op: 'welcome', v: 1, cid: `cid${c.url}`, hb: 30_000 }));

t.test(
  'the client speaks protocol v1 through any ClientTransport: open with the URL and token, frames both ways',
  async (t) => {
    const f = fakeTransport();
    const opened = f.next();
    const c = new Client('fake://one', { transport: f.transport, token: 'secret' });
    t.teardown(() => c.close());
    const conn = await opened;
    t.same([conn.url, conn.token], ['fake://one', 'secret']);
    welcome(conn);
    t.equal(c.state, 'connected');
    const published = c.publish('news', { x: 1 });
    const frame = conn.sent.find((s) => s.op === 'pub')!;
    t.same({ ...frame, id: undefined }, { op: 'pub', ch: 'news', data: { x: 1 }, id: undefined });
    conn.on.frame(JSON.stringify({ op: 'ok', id: frame.id, res: { offset: 1, epoch: 'e' } }));
    t.same(await published, { offset: 1, epoch: 'e' });
    c.close();
    t.same(conn.closed, { code: 1000, reason: 'client closed' });
  },
);

t.test(
  'a malformed server frame is reported as error 1002, the connection is closed with 1002, and the client reconnects to the next endpoint',
  async (t) => {
    const f = fakeTransport();
    const first = f.next();
    const c = new Client(['fake://a', 'fake://b'], { transport: f.transport, reconnect: { minDelay: 1, maxDelay: 2 } });
    t.teardown(() => c.close());
    const a = await first;
    welcome(a);
    const pending = c.history('news');
    const errors: ClientError[] = [];
    c.on('error', (e) => errors.push(e));
    const disconnected = new Promise((resolve) => c.once('disconnected', resolve));
    const second = f.next();
    a.on.frame('{"op":"msg","ch":"news"}');
    t.equal(errors[0]?.code, CLIENT_ERROR.BAD_SERVER_FRAME);
    t.match(errors[0]?.message, /^malformed server frame: /);
    t.same(a.closed, { code: 1002, reason: 'malformed server frame' });
    t.same(await disconnected, { code: 1002, reason: 'malformed server frame', willReconnect: true });
    await t.rejects(
      pending,
      { code: CLIENT_ERROR.CONNECTION_LOST },
      'a request pending on that connection fails as for a lost connection',
    );
    const b = await second;
    t.equal(b.url, 'fake://b');
    welcome(b);
    t.equal(c.state, 'connected');
  },
);

t.test('frames from a connection the client already left are ignored', async (t) => {
  const f = fakeTransport();
  const first = f.next();
  const c = new Client('fake://a', { transport: f.transport, reconnect: { minDelay: 1, maxDelay: 2 } });
  t.teardown(() => c.close());
  const a = await first;
  welcome(a);
  const errors: ClientError[] = [];
  c.on('error', (e) => errors.push(e));
  a.on.frame('garbage');
  a.on.frame('more garbage');
  t.equal(errors.length, 1, 'only the first bad frame counts: the connection is gone after it');
});

t.test(
  'a connection refused with an HTTP status stops the client with 4502 and the status in the reason',
  async (t) => {
    const f = fakeTransport();
    const first = f.next();
    const c = new Client('fake://a', { transport: f.transport });
    const a = await first;
    const closed = new Promise((resolve) => c.once('closed', resolve));
    a.on.close({ code: 1006, reason: '', refused: { status: 401 } });
    t.same(await closed, { code: CLOSE.KICKED, reason: 'upgrade refused with HTTP 401' });
    t.equal(f.conns.length, 1, 'no reconnect');
  },
);

t.test('the transport option is validated, and the transport decides which URLs it accepts', async (t) => {
  t.throws(() => new Client('fake://a', { transport: {} as ClientTransport }), {
    name: 'TypeError',
    message: /transport must be a ClientTransport/,
  });
  const f = fakeTransport();
  t.throws(() => new Client('ws://a', { transport: f.transport }), {
    name: 'TypeError',
    message: 'switchyard client: url must start with fake:// (got ws://a)',
  });
  t.throws(() => new Client('http://a', { WebSocket: class {} as never }), {
    message: 'switchyard client: url must start with ws:// or wss:// (got http://a)',
  });
});
