// [SUB-11] A subscribe always gets a reply (issue 9 item 8): one unsubscribed while the
// `authorize` hook is still deciding is answered with 110, not left hanging.
import t from 'tap';
import { Switchyard } from '../lib/hub.js';
import { fakeClient } from './helpers/fake-transport.js';

for (const allow of [true, false]) {
  t.test(
    `a sub unsubscribed while authorize is pending (authorize ${allow ? 'allows' : 'denies'}) gets a reply`,
    async (t) => {
      let decide!: (ok: boolean) => void;
      const hub = new Switchyard({ authorize: () => new Promise<boolean>((r) => (decide = r)) });
      t.teardown(() => hub.close());
      const c = fakeClient(hub);
      c.send({ op: 'sub', id: 1, ch: 'pending.a' });
      c.send({ op: 'unsub', id: 2, ch: 'pending.a' });
      t.equal((await c.reply(2)).op, 'ok', 'the unsub is answered at once');
      decide(allow);
      const reply = await c.reply(1);
      t.equal(reply.op, 'err');
      t.equal(reply.code, allow ? 110 : 107);
      if (allow) t.match(reply.msg, /SUB-11/);
      t.equal(hub.metrics().subscriptions, 0, 'nothing left subscribed');
    },
  );
}
