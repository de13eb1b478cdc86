// Acks in exactly the SDK's shape are read without JSON.parse (lib/validate.ts sdkAckOffset);
// the fast path accepts a subset of what the validator accepts, with the same meaning, and
// every other ack (another key order, spaces, escapes, an unsubscribed or pattern channel) goes
// through the validator and gets its documented error.
import t from 'tap';
import { ERRORS } from '../lib/errors.js';
import { sdkAckOffset, validateFrame } from '../lib/validate.js';
import { coreHub, conn, fakeClient, received, sub } from './guarantees/helpers.js';

const LIMITS = { maxMessageBytes: 65_536, maxChannelBytes: 255, maxDepth: 32, maxHistoryLimit: 1_000 };

t.test('the SDK shape is read on the fast path; anything else is left to the validator', async (t) => {
  t.equal(sdkAckOffset(JSON.stringify({ op: 'ack', ch: 'jobs.a', off: 42 })), 42);
  t.equal(sdkAckOffset('{"op":"ack","ch":"a","off":0}'), 0);
  t.equal(sdkAckOffset(`{"op":"ack","ch":"a","off":${Number.MAX_SAFE_INTEGER}}`), Number.MAX_SAFE_INTEGER);
  for (const other of [
    '{"op":"ack","off":3,"ch":"a"}',
    '{"op":"ack", "ch":"a","off":3}',
    '{"op":"ack","ch":"a","off":3 }',
    '{"op":"ack","ch":"a","off":"3"}',
    '{"op":"ack","ch":"a","off":-3}',
    '{"op":"ack","ch":"a","off":3.5}',
    '{"op":"ack","ch":"a","off":1e3}',
    '{"op":"ack","ch":"a","off":03}',
    '{"op":"ack","ch":"a","off":}',
    '{"op":"ack","ch":"a","off":9007199254740992}',
    '{"op":"ack","ch":"a","off":12345678901234567}',
    '{"op":"ack","ch":"","off":3}',
    '{"op":"ack","ch":"a\\u002eb","off":3}',
    '{"op":"ack","ch":"a\\"","off":3}',
    '{"op":"ack","ch":"a","off":3,"x":1}',
    '{"op":"ack","ch":"a","off":3}}',
  ]) {
    t.equal(sdkAckOffset(other), -1, other);
  }
});

// The channel read on the fast path is then looked up among the connection's subscriptions, whose
// names were validated at subscribe: an invalid name finds none and goes to the validator.
t.test('whatever the fast path accepts on a valid channel, the validator reads as the same ack', async (t) => {
  const accepted: string[] = [];
  for (const ch of ['a', 'jobs.a', 'x'.repeat(200), 'a-b_c.d', 'user:1@x=y']) {
    for (const off of [0, 1, 9, 10, 255, 123456789, Number.MAX_SAFE_INTEGER]) {
      const text = JSON.stringify({ op: 'ack', ch, off });
      const off2 = sdkAckOffset(text);
      t.equal(off2, off, text.slice(0, 40));
      t.same(validateFrame(text, false, LIMITS), { frame: { op: 'ack', ch, off } });
      accepted.push(text);
    }
  }
  t.equal(accepted.length, 35);
});

t.test('an SDK-shaped ack on a channel that is not an exact subscription gets the validator errors', async (t) => {
  const { hub } = coreHub(t);
  const c = fakeClient(hub);
  await sub(c, 'jobs.*');
  c.send('{"op":"ack","ch":"jobs.*","off":1}');
  t.equal(c.t.frames.at(-1).code, ERRORS.BAD_CHANNEL.code, '[ACK-1] a pattern is not an exact channel');
  c.send('{"op":"ack","ch":"other","off":1}');
  t.equal(c.t.frames.at(-1).code, ERRORS.NOT_SUBSCRIBED.code, '[ACK-3] not subscribed');
});

t.test('SDK-shaped acks release a paused QoS 1 subscription without a JSON.parse per ack', async (t) => {
  const { hub } = coreHub(t, { limits: { inflightWindow: 4 }, history: { size: 100 } });
  const c = fakeClient(hub);
  await sub(c, 'jobs.q', { qos: 1 });
  for (let i = 0; i < 8; i++) await hub.publish('jobs.q', i);
  await received(c, 'jobs.q', 4);
  const parse = JSON.parse;
  let parsed = 0;
  JSON.parse = ((...args: Parameters<typeof JSON.parse>) => {
    parsed++;
    return parse(...args);
  }) as typeof JSON.parse;
  try {
    conn(c).receive('{"op":"ack","ch":"jobs.q","off":4}', false);
  } finally {
    JSON.parse = parse;
  }
  t.equal(parsed, 0, 'the ack was read without JSON.parse');
  await received(c, 'jobs.q', 8);
  t.equal(conn(c).subs.get('jobs.q')!.acked, 4);
});
