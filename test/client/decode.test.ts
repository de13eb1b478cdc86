import t, { type Test } from 'tap';
import { decodeFrame } from '../../lib/client/decode.js';
import { CLIENT_ERROR, ClientError } from '../../lib/client/errors.js';

// One valid frame per server→client op (docs/protocol.md), as the server sends them.
const VALID: Record<string, Record<string, unknown>> = {
  welcome: { op: 'welcome', v: 1, cid: 'c1', hb: 25_000, win: 256, pr: 100, exp: 60_000, subs: [{ ch: 'a', qos: 0 }] },
  ok: { op: 'ok', id: 1, res: { offset: 1, epoch: 'e' } },
  err: { op: 'err', id: 2, code: 107, msg: 'forbidden' },
  msg: { op: 'msg', sub: 'a.*', ch: 'a.b', off: 3, ep: 'e', data: { x: 1 } },
  drop: { op: 'drop', ch: 'a', n: 4 },
  gap: { op: 'gap', ch: 'a', position: { offset: 5, epoch: 'e' }, reason: 'trimmed' },
  join: { op: 'join', ch: 'a', m: { cid: 'c2', info: { name: 'x' } } },
  leave: { op: 'leave', ch: 'a', m: { cid: 'c2' } },
  ujoin: { op: 'ujoin', ch: 'a', u: { id: 'ann' } },
  uleave: { op: 'uleave', ch: 'a', u: { id: 'ann' } },
  refresh: { op: 'refresh', exp: 1000 },
  end: { op: 'end', ch: 'a', code: 121, msg: 'revoked' },
  ping: { op: 'ping' },
};

const rejects = (t: Test, text: string, why: string): void => {
  try {
    decodeFrame(text);
    t.fail(`${why}: accepted ${text}`);
  } catch (err) {
    t.ok(
      err instanceof ClientError && err.code === CLIENT_ERROR.BAD_SERVER_FRAME,
      `${why}: rejected with BAD_SERVER_FRAME`,
    );
    t.match((err as Error).message, /^malformed server frame: /);
  }
};

t.test(
  'every server op decodes when it has the shape of docs/protocol.md, optional fields absent or present',
  async (t) => {
    for (const [op, frame] of Object.entries(VALID)) t.same(decodeFrame(JSON.stringify(frame)), frame, op);
    // Optional fields may be left out.
    t.ok(decodeFrame('{"op":"welcome","v":1,"cid":"c","hb":1}'));
    t.ok(decodeFrame('{"op":"ok","id":1}'));
    t.ok(decodeFrame('{"op":"err","code":101,"msg":"bad frame"}'), 'a connection-level error has no id');
    t.ok(
      decodeFrame('{"op":"msg","ch":"a","off":1,"ep":"e","data":null}'),
      'a message without sub is for the exact channel',
    );
    t.ok(decodeFrame('{"op":"ping","extra":true}'), 'unknown extra fields are ignored');
  },
);

t.test('a frame that is not a JSON object with a known op is rejected', async (t) => {
  rejects(t, 'not json', 'not JSON');
  rejects(t, '[1,2]', 'an array');
  rejects(t, 'null', 'null');
  rejects(t, '"welcome"', 'a string');
  rejects(t, '{"v":1}', 'no op');
  rejects(t, '{"op":"shout"}', 'an unknown op');
  rejects(t, '{"op":"toString"}', 'an op inherited from Object.prototype');
  rejects(t, '{"op":7}', 'a numeric op');
});

// Decision table: for each op, each required field removed and each field given the wrong type.
const WRONG: Record<string, Array<[field: string, value: unknown]>> = {
  welcome: [
    ['v', '1'],
    ['cid', 1],
    ['hb', null],
    ['win', '256'],
    ['pr', true],
    ['exp', '1'],
    ['subs', {}],
  ],
  ok: [
    ['id', '1'],
    ['res', 'yes'],
    ['res', [1]],
  ],
  err: [
    ['id', '2'],
    ['code', '107'],
    ['msg', 1],
  ],
  msg: [
    ['sub', 1],
    ['ch', 1],
    ['off', '3'],
    ['ep', 5],
  ],
  drop: [
    ['ch', null],
    ['n', '4'],
  ],
  gap: [
    ['ch', 1],
    ['position', 5],
    ['position', { offset: '5', epoch: 'e' }],
    ['position', { offset: 5 }],
    ['reason', 1],
  ],
  join: [
    ['ch', 1],
    ['m', 'c2'],
    ['m', { cid: 2 }],
  ],
  leave: [
    ['ch', 1],
    ['m', null],
    ['m', {}],
  ],
  ujoin: [
    ['ch', 1],
    ['u', 'ann'],
    ['u', { id: 1 }],
  ],
  uleave: [
    ['ch', 1],
    ['u', {}],
  ],
  refresh: [['exp', '1000']],
  end: [
    ['ch', 1],
    ['code', '121'],
    ['msg', null],
  ],
};
const OPTIONAL = new Set(['welcome.win', 'welcome.pr', 'welcome.exp', 'welcome.subs', 'ok.res', 'err.id', 'msg.sub']);

t.test('each required field missing, and each field of the wrong type, is rejected', async (t) => {
  for (const [op, cases] of Object.entries(WRONG)) {
    const valid = VALID[op]!;
    for (const [field, value] of cases)
      rejects(t, JSON.stringify({ ...valid, [field]: value }), `${op}.${field} = ${JSON.stringify(value)}`);
    for (const field of Object.keys(valid)) {
      if (field === 'op' || field === 'data' || OPTIONAL.has(`${op}.${field}`)) continue;
      const { [field]: _gone, ...rest } = valid;
      rejects(t, JSON.stringify(rest), `${op} without ${field}`);
    }
  }
});
