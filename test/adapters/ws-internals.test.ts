// adapters/ws-transport.ts reads three `ws` internals that have no public API: the TCP socket
// (`_socket`, corked and uncorked to coalesce writes, written to directly on the fan-out fast path)
// and the Sender's `_bufferedBytes` and `_queue` (whether ws holds a frame back). These tests pin
// each one against the installed ws, so an upgrade that renames or changes one fails here by name
// instead of silently turning the fast path off; and they show that a transport built on a ws
// without one of them falls back to the public `ws.send` and still delivers every frame in order.
import { createRequire } from 'node:module';
import { Socket } from 'node:net';
import t from 'tap';
import WebSocket, { WebSocketServer } from 'ws';
import { textFrame, WsTransport, wsInternals } from '../../adapters/ws-transport.js';

interface Teardown {
  teardown(fn: () => unknown): void;
}

const wsVersion = (createRequire(import.meta.url)('ws/package.json') as { version: string }).version;

/** A loopback ws server and one client; resolves with the server side of the connection. */
async function pair(t: Teardown): Promise<{ server: WebSocket; client: WebSocket; received: () => Promise<string[]> }> {
  const wss = new WebSocketServer({ port: 0, host: '127.0.0.1' });
  t.teardown(() => new Promise<void>((r) => wss.close(() => r())));
  await new Promise<void>((r) => wss.once('listening', () => r()));
  const { port } = wss.address() as { port: number };
  const serverSide = new Promise<WebSocket>((r) => wss.once('connection', r));
  const client = new WebSocket(`ws://127.0.0.1:${port}`);
  t.teardown(() => client.terminate());
  const got: string[] = [];
  client.on('message', (d) => got.push(d.toString()));
  await new Promise<void>((r, reject) => client.once('open', () => r()).once('error', reject));
  const server = await serverSide;
  t.teardown(() => server.terminate());
  // Resolves once a sentinel sent last by the public API arrives: everything before it has arrived.
  const received = async (): Promise<string[]> => {
    const done = new Promise<void>((r) => client.on('message', (d) => d.toString() === '<end>' && r()));
    server.send('<end>');
    await done;
    return got.filter((m) => m !== '<end>');
  };
  return { server, client, received };
}

/** Counts the frames that go through the public `ws.send`. */
function countSends(ws: WebSocket): { count: number } {
  const counter = { count: 0 };
  const send = ws.send.bind(ws);
  ws.send = ((...args: Parameters<WebSocket['send']>) => {
    counter.count++;
    return send(...args);
  }) as WebSocket['send'];
  return counter;
}

t.test(`ws ${wsVersion}: a server socket keeps its TCP socket in _socket, shared with its Sender`, async (t) => {
  const { server } = await pair(t);
  const raw = (server as unknown as { _socket: unknown })._socket;
  t.ok(raw instanceof Socket, '_socket is the net.Socket');
  const sender = (server as unknown as { _sender: { _socket: unknown } })._sender;
  t.ok(sender, '_sender exists');
  t.equal(sender._socket, raw, "the Sender writes to the same socket (so direct writes keep ws's order)");
  t.equal(server.extensions, '', 'no extension is negotiated by default (permessage-deflate is off)');
});

t.test(`ws ${wsVersion}: the Sender's _bufferedBytes and _queue say when it holds frames back`, async (t) => {
  const { server, received } = await pair(t);
  const sender = (server as unknown as { _sender: { _bufferedBytes: unknown; _queue: unknown } })._sender;
  t.equal(sender._bufferedBytes, 0, '_bufferedBytes is a number, 0 when idle');
  t.ok(Array.isArray(sender._queue), '_queue is an array');
  t.equal((sender._queue as unknown[]).length, 0, '_queue is empty when idle');
  // A Blob is read asynchronously: ws holds it, and every frame sent after it, until it is read.
  server.send(new Blob(['held']));
  t.ok((sender._bufferedBytes as number) > 0, '_bufferedBytes counts a frame being held back');
  server.send('queued');
  t.equal((sender._queue as unknown[]).length, 1, '_queue holds the frame sent behind it');
  t.same(await received(), ['held', 'queued'], 'both arrive, in order');
  t.equal(sender._bufferedBytes, 0, 'and the Sender is idle again');
});

t.test(`ws ${wsVersion}: the transport finds every internal and sends a shared Buffer past ws.send`, async (t) => {
  const { server, received } = await pair(t);
  const found = wsInternals(server);
  t.ok(found.socket, 'socket found');
  t.ok(found.sender, 'sender found (the fast path is on)');
  const sends = countSends(server);
  const transport = new WsTransport(server);
  transport.send(Buffer.from('{"op":"msg","n":1}'));
  transport.send(Buffer.from('{"op":"msg","n":2}'));
  t.equal(sends.count, 0, 'pre-framed Buffers are written to the socket directly');
  transport.send('{"op":"text"}');
  t.equal(sends.count, 1, 'strings still go through ws.send');
  t.same(await received(), ['{"op":"msg","n":1}', '{"op":"msg","n":2}', '{"op":"text"}']);
});

t.test('the fast path is off while permessage-deflate transforms frames', async (t) => {
  const wss = new WebSocketServer({ port: 0, host: '127.0.0.1', perMessageDeflate: true });
  t.teardown(() => new Promise<void>((r) => wss.close(() => r())));
  await new Promise<void>((r) => wss.once('listening', () => r()));
  const serverSide = new Promise<WebSocket>((r) => wss.once('connection', r));
  const client = new WebSocket(`ws://127.0.0.1:${(wss.address() as { port: number }).port}`, {
    perMessageDeflate: true,
  });
  t.teardown(() => client.terminate());
  await new Promise<void>((r, reject) => client.once('open', () => r()).once('error', reject));
  const server = await serverSide;
  t.teardown(() => server.terminate());
  t.match(server.extensions, /permessage-deflate/);
  t.ok(wsInternals(server).socket, 'writes are still coalesced');
  t.equal(wsInternals(server).sender, undefined, 'but every frame goes through ws.send');
});

// A view of a real server socket on which one internal reads as missing, as after a ws upgrade
// that renamed it; everything else (ws.send, bufferedAmount) is the real socket's.
function without(ws: WebSocket, hide: (view: object) => void): WebSocket {
  const view = Object.create(ws) as WebSocket;
  Object.defineProperty(view, 'bufferedAmount', { get: () => ws.bufferedAmount });
  hide(view);
  return view;
}

const variants: Array<[string, (view: object) => void]> = [
  ['_socket', (v) => Object.defineProperty(v, '_socket', { value: undefined })],
  ['_sender', (v) => Object.defineProperty(v, '_sender', { value: undefined })],
  [
    '_sender._queue',
    (v) => {
      const real = (v as { _sender: object })._sender;
      Object.defineProperty(v, '_sender', { value: Object.create(real, { _queue: { value: undefined } }) });
    },
  ],
];

for (const [missing, hide] of variants) {
  t.test(`without ${missing} the transport falls back to ws.send and delivers every frame in order`, async (t) => {
    const { server, received } = await pair(t);
    const sends = countSends(server);
    const transport = new WsTransport(without(server, hide));
    const frames = ['{"n":1}', '{"n":2}', '{"n":3}'];
    transport.send(Buffer.from(frames[0]!));
    transport.send(frames[1]!);
    transport.send(Buffer.from(frames[2]!));
    t.equal(sends.count, 3, 'every frame went through the public API');
    t.same(await received(), frames);
  });
}

t.test('textFrame is what ws itself sends for the same text (the bytes the fast path writes)', async (t) => {
  const { server } = await pair(t);
  const raw = (server as unknown as { _socket: Socket })._socket;
  const written: Buffer[] = [];
  const write = raw.write.bind(raw);
  raw.write = ((chunk: Buffer, ...rest: unknown[]) => {
    written.push(Buffer.from(chunk));
    return (write as (...a: unknown[]) => boolean)(chunk, ...rest);
  }) as typeof raw.write;
  const payload = Buffer.from('x'.repeat(300));
  server.send(payload, { binary: false });
  t.same(Buffer.concat(written), textFrame(payload));
});
