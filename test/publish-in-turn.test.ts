// With the memory engine a publish is stored and fanned out inside the publish() call (lib/
// publisher.ts, HubContext.appendNow), so a turn that publishes many messages sends each as it is
// published rather than all after the last one; still stored before sent. A store whose append
// was replaced goes the asynchronous way with its usual failure (201).
import t from 'tap';
import { ERRORS } from '../lib/errors.js';
import { coreHub, fakeClient, offsets, received, sub } from './guarantees/helpers.js';

t.test('memory engine: each message is stored, then sent, before publish() returns', async (t) => {
  const { hub, engine } = coreHub(t);
  const a = fakeClient(hub);
  const b = fakeClient(hub);
  await sub(a, 'turn.a');
  await sub(b, 'turn.b');
  // Both subscriptions live (their catch-up from the empty store done): a first message arrived.
  await Promise.all([hub.publish('turn.a', 0), hub.publish('turn.b', 0)]);
  await Promise.all([received(a, 'turn.a', 1), received(b, 'turn.b', 1)]);
  // What the store held at the moment each message was sent (state() reads it synchronously).
  const atSend: Array<Promise<[number, number]>> = [];
  const send = a.t.send.bind(a.t);
  a.t.send = (frame) => {
    send(frame);
    const f = a.t.frames.at(-1);
    if (f.op === 'msg') atSend.push(engine.storage.state('turn.a').then((s) => [f.off, s.offset]));
  };
  const p1 = hub.publish('turn.a', 1);
  t.same(offsets(a, 'turn.a'), [1, 2], 'sent before publish() returned');
  const p2 = hub.publish('turn.b', 2);
  const p3 = hub.publish('turn.a', 3);
  t.same(offsets(a, 'turn.a'), [1, 2, 3], 'the next publish of the same turn is sent as it is made');
  t.same(offsets(b, 'turn.b'), [1, 2]);
  t.same(await Promise.all([p1, p2, p3]).then((r) => r.map((x) => x.offset)), [2, 2, 3]);
  for (const [sent, stored] of await Promise.all(atSend))
    t.ok(stored >= sent, `message ${sent} was in the store when sent (store at ${stored})`);
  t.equal(atSend.length, 2);
});

t.test('a store whose append was replaced is awaited as usual; its failure is 201 and nothing is sent', async (t) => {
  const { hub, engine } = coreHub(t);
  const c = fakeClient(hub);
  await sub(c, 'turn.f');
  engine.storage.append = () => Promise.reject(new Error('disk full'));
  const p = hub.publish('turn.f', 1);
  t.same(offsets(c, 'turn.f'), [], 'nothing sent while the store has not answered');
  await t.rejects(p, { code: ERRORS.ENGINE_UNAVAILABLE.code });
  t.same(offsets(c, 'turn.f'), []);
});
