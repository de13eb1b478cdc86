import { once } from 'node:events';
import { EventEmitter } from 'node:events';
import t from 'tap';
import { ACK_DELAY_MS, ackBatcher } from '../../lib/client/ack-batcher.js';

function recorder(connected = () => true) {
  const sent: Array<[string, number]> = [];
  const events = new EventEmitter();
  const acks = ackBatcher((ch, off) => {
    if (!connected()) return false;
    sent.push([ch, off]);
    events.emit('sent');
    return true;
  });
  return { acks, sent, events };
}

t.test('far from a full window, acks wait the long delay and go as one cumulative ack per channel', async (t) => {
  const { acks, sent, events } = recorder();
  t.teardown(() => acks.stop());
  const start = Date.now();
  for (let off = 1; off <= 5; off++) acks.ack('a', off);
  acks.ack('b', 9);
  t.same(sent, [], 'nothing is sent at once');
  await once(events, 'sent');
  t.ok(Date.now() - start >= ACK_DELAY_MS - 5, 'sent after the batching delay');
  t.same(sent, [
    ['a', 5],
    ['b', 9],
  ]);
});

t.test('half of the in-flight window processed sends the ack at once', async (t) => {
  const { acks, sent } = recorder();
  t.teardown(() => acks.stop());
  acks.setWindow(10);
  for (let off = 1; off <= 4; off++) acks.ack('a', off);
  t.same(sent, [], '4 processed: not yet');
  acks.ack('a', 5);
  t.same(sent, [['a', 5]], '5 of a window of 10: at once');
  for (let off = 6; off <= 9; off++) acks.ack('a', off);
  t.same(sent, [['a', 5]], 'counted again from the last ack');
  acks.ack('a', 10);
  t.same(sent, [
    ['a', 5],
    ['a', 10],
  ]);
});

t.test('an invalid window announced by the server is ignored (the default 256 stays)', async (t) => {
  const { acks, sent } = recorder();
  t.teardown(() => acks.stop());
  for (const bad of [0, -4, 1.5, '10', undefined]) acks.setWindow(bad);
  acks.ack('a', 1);
  acks.ack('a', 100);
  t.same(sent, [], '100 of 256 is below half');
  acks.ack('a', 129);
  t.same(sent, [['a', 129]]);
});

t.test('a forgotten channel sends no ack, and stop() cancels the pending batch', async (t) => {
  const { acks, sent } = recorder();
  acks.ack('a', 1);
  acks.ack('b', 1);
  acks.forget('a');
  acks.flush();
  t.same(sent, [['b', 1]]);
  acks.ack('c', 1);
  acks.stop();
  await new Promise((r) => setTimeout(r, ACK_DELAY_MS * 2));
  t.same(sent, [['b', 1]], 'nothing sent after stop()');
});

t.test('an ack that cannot be sent (not connected) is dropped, not retried', async (t) => {
  let up = false;
  const { acks, sent } = recorder(() => up);
  acks.ack('a', 3);
  acks.flush();
  up = true;
  acks.flush();
  t.same(sent, []);
});
