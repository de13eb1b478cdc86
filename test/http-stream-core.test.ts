// The core of HTTP streaming without sockets: SSE framing of frames and closes, the session's
// ordering of POSTed batches ([HS-6]) and the routing of batches to the node holding the stream
// through the broker ([HS-5]).
import t from 'tap';
import {
  closeEvent,
  sseEvent,
  StreamSession,
  StreamTransport,
  MAX_OUT_OF_ORDER,
  type StreamSink,
} from '../lib/http-stream-session.js';
import { nodeOfSession, StreamSessions, UPLINK_CHANNEL_PREFIX } from '../lib/http-stream-routing.js';
import type { BrokerMessage } from '../lib/engine.js';

const text = (b: Uint8Array): string => new TextDecoder().decode(b);

function sink() {
  const written: string[] = [];
  const s: StreamSink & { written: string[]; ended: boolean; destroyed: boolean } = {
    written,
    ended: false,
    destroyed: false,
    writableLength: 0,
    write: (c) => (written.push(typeof c === 'string' ? c : text(c)), true),
    end: () => void (s.ended = true),
    destroy: () => void (s.destroyed = true),
    cork: () => {},
    uncork: () => {},
  };
  return s;
}

t.test('a frame is one data line, the same bytes are framed once for many streams, a close is an event', async (t) => {
  t.equal(text(sseEvent('{"op":"ping"}')), 'data: {"op":"ping"}\n\n');
  const shared = new TextEncoder().encode('{"op":"msg"}');
  t.equal(sseEvent(shared), sseEvent(shared), 'one framing for one payload handed to many streams');
  t.equal(closeEvent(3002, 'slow'), 'event: close\ndata: {"code":3002,"reason":"slow"}\n\n');
});

t.test('the transport writes frames, closes with an event, and a slow consumer is destroyed without one', async (t) => {
  const a = sink();
  const tr = new StreamTransport(a);
  tr.send('{"op":"ping"}');
  tr.close(1001, 'bye');
  tr.send('{"op":"late"}');
  t.same(a.written, ['data: {"op":"ping"}\n\n', closeEvent(1001, 'bye')]);
  t.ok(a.ended);
  const b = sink();
  new StreamTransport(b).close(3002, 'slow', true);
  t.same(b.written, []);
  t.ok(b.destroyed);
});

t.test('batches are handed over in sequence order; repeats are ignored; too many held is refused', async (t) => {
  const got: string[] = [];
  const s = new StreamSession('n.x', new StreamTransport(sink()), () => t.fail('no gap'));
  s.input = { receive: (f) => void got.push(f), closed: () => {} };
  t.equal(s.uplink(2, ['c']), 'held');
  t.equal(s.uplink(1, ['b']), 'held');
  t.equal(s.uplink(0, ['a1', 'a2']), 'delivered');
  t.same(got, ['a1', 'a2', 'b', 'c']);
  t.equal(s.uplink(1, ['b again']), 'duplicate');
  for (let i = 0; i < MAX_OUT_OF_ORDER; i++) t.equal(s.uplink(10 + i, ['x']), 'held');
  t.equal(s.uplink(100, ['y']), 'overflow');
  s.dispose();
});

t.test('a batch that never arrives ends the session after the reorder timeout', async (t) => {
  let gap!: () => void;
  const ended = new Promise<void>((r) => (gap = r));
  const s = new StreamSession('n.x', new StreamTransport(sink()), () => gap(), 20);
  s.input = { receive: () => {}, closed: () => {} };
  s.uplink(1, ['later']);
  await ended;
  t.pass('onGap was called');
  s.dispose();
});

t.test("a POST for another node goes on that node's uplink channel; the node hands it to its session", async (t) => {
  const published: BrokerMessage[] = [];
  const subscribed: string[] = [];
  const host = (nodeId: string) => ({
    nodeId,
    publish: async (m: BrokerMessage) => void published.push(m),
    subscribe: async (c: string) => void subscribed.push(c),
    log: () => {},
  });
  const here = new StreamSessions(host('aa'));
  const there = new StreamSessions(host('bb'));
  await there.listen();
  await there.listen();
  t.same(subscribed, [UPLINK_CHANNEL_PREFIX + 'bb'], 'subscribed once');
  const sid = there.newId();
  t.equal(nodeOfSession(sid), 'bb');
  t.equal(nodeOfSession('bb.short'), undefined);
  const got: string[] = [];
  const session = new StreamSession(sid, new StreamTransport(sink()), () => {});
  session.input = { receive: (f) => void got.push(f), closed: () => {} };
  there.add(session);
  t.equal(await here.route(sid, 0, ['{"op":"pong"}']), 'forwarded');
  t.equal(published[0]!.channel, UPLINK_CHANNEL_PREFIX + 'bb');
  there.receive(published[0]!);
  t.same(got, ['{"op":"pong"}']);
  t.equal(await there.route(sid, 1, ['local']), 'delivered', 'on its own node a POST is applied directly');
  t.equal(await there.route(there.newId(), 0, ['x']), 'unknown');
  t.equal(await here.route('garbage', 0, ['x']), 'unknown');
  there.receive({ ...published[0]!, payload: 'not json' });
  there.remove(session);
  t.equal(there.size, 0);
});
