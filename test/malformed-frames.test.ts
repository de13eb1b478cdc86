// Every inbound frame goes through one validator; a bad frame gets a documented error code and
// nothing a client sends can throw, pollute prototypes or disturb other clients.
import t from 'tap';
import { Switchyard } from '../lib/hub.js';
import { ERRORS } from '../lib/errors.js';
import { fakeClient } from './helpers/fake-transport.js';

const deep = (n: number): string => '['.repeat(n) + ']'.repeat(n);

// [description, frame text, expected error name, whether the error carries the request id]
const cases: Array<[string, string, keyof typeof ERRORS, boolean?]> = [
  ['invalid JSON', '{"op":"sub",', 'BAD_JSON'],
  ['empty text', '', 'BAD_JSON'],
  ['a JSON array', '[1,2,3]', 'BAD_FRAME'],
  ['a JSON string', '"sub"', 'BAD_FRAME'],
  ['JSON null', 'null', 'BAD_FRAME'],
  ['missing op', '{"id":1,"ch":"a"}', 'BAD_FRAME'],
  ['op of wrong type', '{"op":7,"id":1}', 'BAD_FRAME'],
  ['unknown op', '{"op":"explode","id":1}', 'UNKNOWN_OP', true],
  ['op naming an Object.prototype member', '{"op":"constructor","id":1}', 'UNKNOWN_OP', true],
  ['op "__proto__"', '{"op":"__proto__","id":1}', 'UNKNOWN_OP', true],
  ['sub without id', '{"op":"sub","ch":"a"}', 'BAD_FRAME'],
  ['id as string', '{"op":"sub","id":"1","ch":"a"}', 'BAD_FRAME'],
  ['huge id', '{"op":"sub","id":1e300,"ch":"a"}', 'BAD_FRAME'],
  ['negative id', '{"op":"sub","id":-1,"ch":"a"}', 'BAD_FRAME'],
  ['fractional id', '{"op":"sub","id":1.5,"ch":"a"}', 'BAD_FRAME'],
  ['sub without channel', '{"op":"sub","id":1}', 'BAD_CHANNEL', true],
  ['channel of wrong type', '{"op":"sub","id":1,"ch":["a"]}', 'BAD_CHANNEL', true],
  ['channel with empty segment', '{"op":"sub","id":1,"ch":"a..b"}', 'BAD_CHANNEL', true],
  ['channel with a space', '{"op":"sub","id":1,"ch":"a b"}', 'BAD_CHANNEL', true],
  ['channel too long', JSON.stringify({ op: 'sub', id: 1, ch: 'a'.repeat(256) }), 'BAD_CHANNEL', true],
  ['">" not last', '{"op":"sub","id":1,"ch":"a.>.b"}', 'BAD_CHANNEL', true],
  ['qos 2', '{"op":"sub","id":1,"ch":"a","qos":2}', 'BAD_FRAME', true],
  ['since without epoch', '{"op":"sub","id":1,"ch":"a","since":{"offset":1}}', 'BAD_FRAME', true],
  ['since with negative offset', '{"op":"sub","id":1,"ch":"a","since":{"offset":-1,"epoch":"x"}}', 'BAD_FRAME', true],
  ['recovery on a pattern', '{"op":"sub","id":1,"ch":"a.*","since":{"offset":0,"epoch":"x"}}', 'QOS_UNSUPPORTED', true],
  ['publish to a pattern', '{"op":"pub","id":1,"ch":"a.*","data":1}', 'BAD_CHANNEL', true],
  ['publish without data', '{"op":"pub","id":1,"ch":"a"}', 'BAD_FRAME', true],
  ['mid of wrong type', '{"op":"pub","id":1,"ch":"a","data":1,"mid":5}', 'BAD_FRAME', true],
  ['mid too long', JSON.stringify({ op: 'pub', id: 1, ch: 'a', data: 1, mid: 'm'.repeat(65) }), 'BAD_FRAME', true],
  ['deeply nested data', `{"op":"pub","id":1,"ch":"a","data":${deep(5000)}}`, 'BAD_FRAME', true],
  ['ack with string offset', '{"op":"ack","ch":"a","off":"3"}', 'BAD_FRAME'],
  ['history limit 0', '{"op":"hist","id":1,"ch":"a","limit":0}', 'BAD_FRAME', true],
  [
    'frame larger than the limit',
    JSON.stringify({ op: 'pub', id: 1, ch: 'a', data: 'x'.repeat(70_000) }),
    'MESSAGE_TOO_LARGE',
  ],
];

t.test('each malformed frame gets its documented error code and no crash', async (t) => {
  t.ok(cases.length >= 20);
  const hub = new Switchyard({ limits: { maxBadFrames: 1000 } });
  t.teardown(() => hub.close());
  const c = fakeClient(hub);
  for (const [name, text, error, withId] of cases) {
    const before = c.t.frames.length;
    t.doesNotThrow(() => c.input.receive(text, false), name);
    const reply = c.t.frames[before];
    t.equal(reply?.op, 'err', `${name}: error frame`);
    t.equal(reply?.code, ERRORS[error].code, `${name}: code ${ERRORS[error].code} ${error}`);
    t.equal(reply?.id, withId ? 1 : undefined, `${name}: id echoed only when valid`);
  }
  t.equal(c.t.closedWith, undefined, 'connection stays open under the bad-frame limit');
});

t.test('a binary frame gets error 111', async (t) => {
  const hub = new Switchyard();
  t.teardown(() => hub.close());
  const c = fakeClient(hub);
  c.input.receive('', true);
  t.equal(c.t.frames.at(-1).code, ERRORS.BINARY_NOT_SUPPORTED.code);
});

t.test('__proto__ and constructor keys in frames do not pollute Object.prototype', async (t) => {
  const hub = new Switchyard({ channels: [{ match: 'a', clientPublish: true }] });
  t.teardown(() => hub.close());
  const sub = fakeClient(hub);
  sub.send({ op: 'sub', id: 1, ch: 'a' });
  await sub.reply(1);
  const c = fakeClient(hub);
  c.send(
    '{"op":"pub","id":2,"ch":"a","data":{"__proto__":{"polluted":true},"constructor":{"prototype":{"polluted":true}}}}',
  );
  c.send(
    '{"op":"sub","id":3,"ch":"b","__proto__":{"polluted":true},"since":{"offset":0,"epoch":"e","__proto__":{"x":1}}}',
  );
  const ack = await c.reply(2);
  t.equal(ack.op, 'ok');
  const msg = await sub.t.next((f) => f.op === 'msg');
  t.same(Object.keys(msg.data), ['__proto__', 'constructor'], 'delivered as plain data');
  t.equal(({} as Record<string, unknown>).polluted, undefined);
  t.equal((Object.prototype as Record<string, unknown>).polluted, undefined);
});

t.test('repeated bad frames close the connection with 3500 and leave other clients alone', async (t) => {
  const hub = new Switchyard({ limits: { maxBadFrames: 3 }, channels: [{ match: 'x', clientPublish: true }] });
  t.teardown(() => hub.close());
  const bystander = fakeClient(hub);
  bystander.send({ op: 'sub', id: 1, ch: 'x' });
  await bystander.reply(1);
  const abuser = fakeClient(hub);
  for (let i = 0; i < 3; i++) abuser.input.receive('nope', false);
  t.equal(abuser.t.closedWith, undefined, 'three bad frames are tolerated');
  abuser.input.receive('nope', false);
  t.equal(abuser.t.closedWith?.code, 3500);
  abuser.input.receive('{"op":"pub","id":9,"ch":"x","data":1}', false);
  t.equal(abuser.t.frames.filter((f) => f.id === 9).length, 0, 'nothing is processed after the close');
  await hub.publish('x', 'still here');
  const m = await bystander.t.next((f) => f.op === 'msg');
  t.equal(m.data, 'still here');
  t.equal(hub.connectionCount, 1);
});

t.test('a hook that throws becomes an error frame, never an exception', async (t) => {
  const hub = new Switchyard({
    authorize: () => {
      throw new Error('boom');
    },
  });
  t.teardown(() => hub.close());
  const c = fakeClient(hub);
  c.send({ op: 'sub', id: 1, ch: 'a' });
  const r = await c.reply(1);
  t.equal(r.code, ERRORS.FORBIDDEN.code, 'a throwing authorize denies');
});
