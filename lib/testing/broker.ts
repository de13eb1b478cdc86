/**
 * `brokerConformance`: the contract of {@link Broker} as runnable checks.
 * @module
 */
import assert from 'node:assert/strict';
import type { Broker, BrokerMessage } from '../engine.js';
import { Resources, uniquePrefix, waitFor, type Capabilities, type TestFunction } from './common.js';

/** Options of {@link brokerConformance}. */
export interface BrokerConformanceOptions {
  /** Your runner's test function (see {@link TestFunction}). */
  test: TestFunction;
  /**
   * Creates a broker (one node). With `sharedBackend`, brokers from separate calls are nodes on
   * one bus. The suite starts and closes every broker it created.
   */
  createBroker: () => Broker | Promise<Broker>;
  /** What the adapter supports; missing capabilities skip the tests that need them. */
  capabilities: Pick<Capabilities, 'sharedBackend' | 'interestRouting'>;
  /** Prefix in test names (default `broker`). */
  name?: string;
}

/** A started broker and what its sink received. */
interface Node {
  broker: Broker;
  got: BrokerMessage[];
  interrupted: number;
  close(): Promise<void>;
}

/**
 * Registers the broker conformance tests with `options.test`. Absence of a delivery is checked
 * without sleeping: a later message on another channel from the same publisher is awaited, and
 * a bus that keeps one publisher's order would have delivered the earlier one first.
 */
export function brokerConformance(options: BrokerConformanceOptions): void {
  const { test, createBroker, capabilities: caps } = options;
  const label = options.name ?? 'broker';
  const prefix = uniquePrefix('br');
  let seq = 0;
  const channel = (tag: string) => `${prefix}.${tag}${++seq}`;
  const msg = (ch: string, offset: number, payload = JSON.stringify({ n: offset })): BrokerMessage => ({
    channel: ch,
    offset,
    epoch: 'e1',
    payload,
  });

  const define = (name: string, body: (node: () => Promise<Node>) => Promise<void>) =>
    test(`${label}: ${name}`, async () => {
      const res = new Resources<Node>();
      const node = async () => {
        const broker = await createBroker();
        const n: Node = { broker, got: [], interrupted: 0, close: () => broker.close() };
        await broker.start({ message: (m) => n.got.push(m), interrupted: () => n.interrupted++ });
        return res.add(n);
      };
      try {
        await body(node);
      } finally {
        await res.closeAll();
      }
    });

  const received = (n: Node, ch: string) => n.got.filter((m) => m.channel === ch);

  define('a published message reaches the interested node intact', async (node) => {
    const a = await node();
    const ch = channel('intact');
    await a.broker.subscribe(ch);
    const m = msg(ch, 7, '{"text":"h\u00e9llo: \ud83d\ude00","n":[1,null]}');
    await a.broker.publish(m);
    await waitFor(() => received(a, ch).length === 1, 'the message');
    assert.deepEqual(received(a, ch)[0], m);
  });

  define('messages of one channel arrive once each, in publish order', async (node) => {
    const a = await node();
    const ch = channel('order');
    await a.broker.subscribe(ch);
    await Promise.all(Array.from({ length: 300 }, (_, i) => a.broker.publish(msg(ch, i + 1))));
    await waitFor(() => received(a, ch).length >= 300, '300 messages');
    assert.deepEqual(
      received(a, ch).map((m) => m.offset),
      Array.from({ length: 300 }, (_, i) => i + 1),
    );
  });

  define('close is idempotent', async (node) => {
    const a = await node();
    await a.broker.close();
    await a.broker.close();
  });

  if (caps.interestRouting) {
    define('a node receives no message of a channel it has no interest in', async (node) => {
      const a = await node();
      const quiet = channel('none');
      const marker = channel('marker');
      await a.broker.subscribe(marker);
      await a.broker.publish(msg(quiet, 1));
      await a.broker.publish(msg(marker, 1));
      await waitFor(() => received(a, marker).length === 1, 'the marker');
      assert.equal(received(a, quiet).length, 0);
    });

    define('after unsubscribe a channel stops arriving', async (node) => {
      const a = await node();
      const ch = channel('unsub');
      const marker = channel('marker');
      await a.broker.subscribe(ch);
      await a.broker.subscribe(marker);
      await a.broker.publish(msg(ch, 1));
      await waitFor(() => received(a, ch).length === 1, 'the first message');
      await a.broker.unsubscribe(ch);
      await a.broker.publish(msg(ch, 2));
      await a.broker.publish(msg(marker, 1));
      await waitFor(() => received(a, marker).length === 1, 'the marker');
      assert.deepEqual(
        received(a, ch).map((m) => m.offset),
        [1],
      );
    });

    define('a pattern interest receives exactly the channels it matches, once each', async (node) => {
      const a = await node();
      const base = channel('pat');
      const marker = channel('marker');
      await a.broker.subscribe(`${base}.*`);
      await a.broker.subscribe(`${base}.x.>`);
      await a.broker.subscribe(`${base}.one`);
      await a.broker.subscribe(marker);
      const sent = [
        `${base}.one`,
        `${base}.two`,
        `${base}.x.deep`,
        `${base}.y.deep`,
        `${base}`,
        `${base}x.one`,
        `${base}.x`,
      ];
      for (const ch of sent) await a.broker.publish(msg(ch, 1));
      await a.broker.publish(msg(marker, 1));
      // The contract orders messages per channel only (a sharded bus carries channels on
      // different shards), so the expected four are awaited and compared as a set.
      const got = () => a.got.filter((m) => m.channel !== marker).map((m) => m.channel);
      await waitFor(
        () => received(a, marker).length === 1 && got().length >= 4,
        'the marker and the matching channels',
      );
      // `.one` matches both an exact interest and `.*`, `.x` matches `.*` only (`>` needs one more segment).
      assert.deepEqual(got().sort(), [`${base}.one`, `${base}.two`, `${base}.x.deep`, `${base}.x`].sort());
    });
  }

  if (caps.sharedBackend) {
    define('a message published on one node reaches every other interested node in order', async (node) => {
      const a = await node();
      const b = await node();
      const ch = channel('x');
      await b.broker.subscribe(ch);
      await a.broker.subscribe(ch);
      for (let i = 1; i <= 50; i++) await a.broker.publish(msg(ch, i));
      await waitFor(() => received(b, ch).length === 50 && received(a, ch).length === 50, '50 messages on both nodes');
      assert.deepEqual(
        received(b, ch).map((m) => m.offset),
        received(a, ch).map((m) => m.offset),
      );
      assert.deepEqual(
        received(b, ch).map((m) => m.offset),
        Array.from({ length: 50 }, (_, i) => i + 1),
      );
    });
  }

  if (caps.sharedBackend && caps.interestRouting) {
    define('only nodes interested in a channel receive it', async (node) => {
      const a = await node();
      const b = await node();
      const onlyA = channel('a');
      const both = channel('both');
      await a.broker.subscribe(onlyA);
      await a.broker.subscribe(both);
      await b.broker.subscribe(both);
      await a.broker.publish(msg(onlyA, 1));
      await a.broker.publish(msg(both, 1));
      await waitFor(
        () => received(b, both).length === 1 && received(a, both).length === 1,
        'the shared channel on both nodes',
      );
      assert.equal(received(a, onlyA).length, 1);
      assert.equal(received(b, onlyA).length, 0, 'the uninterested node got nothing');
    });
  }
}
