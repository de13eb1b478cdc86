/**
 * `presenceConformance`: the contract of {@link PresenceStore} as runnable checks.
 * @module
 */
import assert from 'node:assert/strict';
import type { PresenceStore, PresenceSink, StoredPresenceMember } from '../engine.js';
import { Resources, uniquePrefix, waitFor, type Capabilities, type TestFunction } from './common.js';

/** What a presence store can do; missing capabilities skip the tests that need them. */
export interface PresenceCapabilities extends Pick<Capabilities, 'sharedBackend'> {
  /** `watch`/`interest` deliver other stores' (nodes') joins and leaves. Needs `sharedBackend`. */
  events: boolean;
  /** A truncated page lists the longest-present members (the in-memory store does). */
  insertionOrder?: boolean;
}

/** Options of {@link presenceConformance}. */
export interface PresenceConformanceOptions {
  /** Your runner's test function (see {@link TestFunction}). */
  test: TestFunction;
  /**
   * Creates a store (one node). With `sharedBackend`, stores from separate calls are nodes
   * sharing one member list. The suite closes every store it created.
   */
  createPresence: () => PresenceStore | Promise<PresenceStore>;
  capabilities: PresenceCapabilities;
  /**
   * Makes `store`'s node die without leaving (stop refreshing, drop connections). Given, the
   * suite checks that the other nodes stop listing its members — and, with `events`, announce
   * their leave — within `deadNodeWithin` ms. Needs `sharedBackend`.
   */
  kill?: (store: PresenceStore) => Promise<void>;
  /** How long a dead node's members may still be listed, ms (default 5,000). */
  deadNodeWithin?: number;
  /** Prefix in test names (default `presence`). */
  name?: string;
}

/** A sink that records what it was told. */
class Recorder implements PresenceSink {
  readonly joins: [string, StoredPresenceMember][] = [];
  readonly leaves: [string, string][] = [];
  join(channel: string, member: StoredPresenceMember): void {
    this.joins.push([channel, member]);
  }
  leave(channel: string, connectionId: string): void {
    this.leaves.push([channel, connectionId]);
  }
}

const sorted = (ms: StoredPresenceMember[]) => [...ms].sort((a, b) => (a.connectionId < b.connectionId ? -1 : 1));

/** Registers the presence store conformance tests with `options.test`. */
export function presenceConformance(options: PresenceConformanceOptions): void {
  const { test, createPresence, capabilities: caps, kill } = options;
  const label = options.name ?? 'presence';
  const within = options.deadNodeWithin ?? 5_000;
  const prefix = uniquePrefix('pr');
  let seq = 0;
  const channel = (tag: string) => `${prefix}.${tag}${++seq}`;

  const define = (name: string, body: (node: () => Promise<PresenceStore>) => Promise<void>) =>
    test(`${label}: ${name}`, async () => {
      const res = new Resources<PresenceStore>();
      const node = async () => res.add(await createPresence());
      try {
        await body(node);
      } finally {
        await res.closeAll();
      }
    });

  define(
    'a joined connection is listed with its info text unchanged, and without info when it has none',
    async (node) => {
      const s = await node();
      const ch = channel('list');
      const info = '{"name":"Zoë","tags":["a|b","x\\ny"],"n":1.5}';
      await s.join(ch, 'c1', info);
      await s.join(ch, 'c2', undefined);
      const { members, truncated } = await s.members(ch, 10);
      assert.deepEqual(sorted(members), [
        { connectionId: 'c1', info },
        { connectionId: 'c2', info: undefined },
      ]);
      assert.equal(truncated, false);
    },
  );

  define('leave removes the member, and leaving a non-member resolves', async (node) => {
    const s = await node();
    const ch = channel('leave');
    await s.join(ch, 'c1', '1');
    await s.join(ch, 'c2', '2');
    await s.leave(ch, 'c1');
    await s.leave(ch, 'nobody');
    await s.leave(channel('never'), 'c2');
    assert.deepEqual((await s.members(ch, 10)).members, [{ connectionId: 'c2', info: '2' }]);
    await s.leave(ch, 'c2');
    assert.deepEqual(await s.members(ch, 10), { members: [], truncated: false });
  });

  define('joining again replaces the info instead of listing the connection twice', async (node) => {
    const s = await node();
    const ch = channel('rejoin');
    await s.join(ch, 'c1', '"old"');
    await s.join(ch, 'c1', '"new"');
    assert.deepEqual((await s.members(ch, 10)).members, [{ connectionId: 'c1', info: '"new"' }]);
  });

  define('a page holds at most limit members and says truncated only when more exist', async (node) => {
    const s = await node();
    const ch = channel('limit');
    for (let i = 0; i < 5; i++) await s.join(ch, `c${i}`, String(i));
    const two = await s.members(ch, 2);
    assert.equal(two.members.length, 2);
    assert.equal(two.truncated, true);
    if (caps.insertionOrder)
      assert.deepEqual(
        two.members.map((m) => m.connectionId),
        ['c0', 'c1'],
      );
    const exact = await s.members(ch, 5);
    assert.equal(exact.members.length, 5);
    assert.equal(exact.truncated, false);
    const all = await s.members(ch, 1_000);
    assert.deepEqual(
      sorted(all.members).map((m) => m.info),
      ['0', '1', '2', '3', '4'],
    );
    assert.equal(all.truncated, false);
  });

  define('channels have separate members', async (node) => {
    const s = await node();
    const [a, b] = [channel('sep'), channel('sep')];
    await s.join(a, 'c1', undefined);
    await s.join(b, 'c2', undefined);
    assert.deepEqual(
      (await s.members(a, 10)).members.map((m) => m.connectionId),
      ['c1'],
    );
    assert.deepEqual(
      (await s.members(b, 10)).members.map((m) => m.connectionId),
      ['c2'],
    );
  });

  define('close is idempotent', async (node) => {
    const s = await node();
    await s.close();
    await s.close();
  });

  if (caps.sharedBackend) {
    define('members joined on one node are listed on another until they leave', async (node) => {
      const [a, b] = [await node(), await node()];
      const ch = channel('shared');
      await a.join(ch, 'a1', '"A"');
      await b.join(ch, 'b1', '"B"');
      for (const s of [a, b]) {
        assert.deepEqual(sorted((await s.members(ch, 10)).members), [
          { connectionId: 'a1', info: '"A"' },
          { connectionId: 'b1', info: '"B"' },
        ]);
      }
      await a.leave(ch, 'a1');
      assert.deepEqual((await b.members(ch, 10)).members, [{ connectionId: 'b1', info: '"B"' }]);
    });

    if (kill) {
      define(`a node that dies without leaving stops being listed within ${within} ms`, async (node) => {
        const [a, b] = [await node(), await node()];
        const ch = channel('dead');
        await a.join(ch, 'a1', undefined);
        await b.join(ch, 'b1', undefined);
        assert.equal((await b.members(ch, 10)).members.length, 2);
        await kill(a);
        const ids = async () => (await b.members(ch, 10)).members.map((m) => m.connectionId);
        await waitFor(async () => (await ids()).length === 1, "the dead node's member to be dropped", within);
        assert.deepEqual(await ids(), ['b1']);
      });
    }
  }

  if (caps.sharedBackend && caps.events) {
    /** A node that watches `channels`, with interest registered and in place. */
    const watching = async (node: () => Promise<PresenceStore>, ...channels: string[]) => {
      const s = await node();
      assert.equal(typeof s.watch, 'function', 'capabilities.events needs watch()');
      assert.equal(typeof s.interest, 'function', 'capabilities.events needs interest()');
      const rec = new Recorder();
      s.watch!(rec);
      for (const ch of channels) s.interest!(ch, true);
      // A list taken after interest() must not miss later events: stores wait for their
      // subscription before listing (see PresenceStore.interest).
      for (const ch of channels) await s.members(ch, 1);
      return { s, rec };
    };

    define("a watcher receives other nodes' joins (with info) and leaves, never its own node's", async (node) => {
      const ch = channel('ev');
      const a = await watching(node, ch);
      const b = await watching(node, ch);
      await a.s.join(ch, 'a1', '{"n":1}');
      await a.s.leave(ch, 'a1');
      await waitFor(() => b.rec.leaves.length === 1, 'the leave on the other node');
      assert.deepEqual(b.rec.joins, [[ch, { connectionId: 'a1', info: '{"n":1}' }]]);
      assert.deepEqual(b.rec.leaves, [[ch, 'a1']]);
      // b's event travels after a's own ones on the same bus: once a has it, a would have
      // had its own too.
      await b.s.join(ch, 'b1', undefined);
      await waitFor(() => a.rec.joins.length === 1, "the other node's join");
      assert.deepEqual(a.rec.joins, [[ch, { connectionId: 'b1', info: undefined }]]);
      assert.deepEqual(a.rec.leaves, [], 'no events of its own node');
    });

    define('events of a channel stop once interest in it ends', async (node) => {
      const [x, y] = [channel('int'), channel('int')];
      const w = await watching(node, x, y);
      const p = await node();
      w.s.interest!(x, false);
      // Interest changes are applied in order; a list waits for them.
      await w.s.members(x, 1);
      await p.join(x, 'p1', undefined);
      await p.join(y, 'p2', undefined);
      await waitFor(() => w.rec.joins.length >= 1, 'the join on the still-watched channel');
      assert.deepEqual(w.rec.joins, [[y, { connectionId: 'p2', info: undefined }]]);
    });

    if (kill) {
      define("watchers are told that a dead node's members left", async (node) => {
        const ch = channel('deadev');
        const w = await watching(node, ch);
        const a = await node();
        await a.join(ch, 'a1', undefined);
        await a.join(ch, 'a2', undefined);
        await waitFor(() => w.rec.joins.length === 2, 'the joins');
        await kill(a);
        await waitFor(() => w.rec.leaves.length >= 2, "leaves for the dead node's members", within + 5_000);
        assert.deepEqual(w.rec.leaves.map(([, cid]) => cid).sort(), ['a1', 'a2']);
      });
    }
  }
}
