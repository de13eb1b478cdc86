/**
 * `storageConformance`: the contract of {@link Storage} as runnable checks. Every storage
 * adapter (memory, Redis, the PostgreSQL example, yours) runs the same suite.
 * @module
 */
import assert from 'node:assert/strict';
import type { AppendResult, Storage } from '../engine.js';
import { delay, Resources, uniquePrefix, waitFor, type Capabilities, type TestFunction } from './common.js';

/** Options the suite passes to your storage factory. */
export interface StorageFactoryOptions {
  /** De-duplication window for idempotency keys in ms; short for the expiry test. */
  dedupWindow: number;
}

/** Options of {@link storageConformance}. */
export interface StorageConformanceOptions {
  /** Your runner's test function (see {@link TestFunction}). */
  test: TestFunction;
  /**
   * Creates a storage instance. Called once or twice per test; with `sharedBackend` both
   * instances must share one backend. The suite closes every instance it created.
   */
  createStorage: (options: StorageFactoryOptions) => Storage | Promise<Storage>;
  /** What the adapter supports; missing capabilities skip the tests that need them. */
  capabilities: Pick<Capabilities, 'sharedBackend' | 'ttl' | 'idempotency'>;
  /**
   * Destroys everything the backend holds for `channel` (as a restart without persistence
   * would). Without it the "epoch changes after data loss" tests are skipped.
   */
  loseData?: (storage: Storage, channel: string) => Promise<void>;
  /** Appends in the concurrency test, per instance (default 1,000). */
  concurrentAppends?: number;
  /** Prefix in test names (default `storage`). */
  name?: string;
}

const KEEP = { size: 10_000, ttl: 3_600_000 };

/**
 * Registers the storage conformance tests with `options.test`. Assertions use `node:assert`,
 * so any runner works. Channels are unique per run, so a shared backend may hold other data.
 */
export function storageConformance(options: StorageConformanceOptions): void {
  const { test, createStorage, capabilities: caps, loseData } = options;
  const n = options.concurrentAppends ?? 1_000;
  const label = options.name ?? 'storage';
  const prefix = uniquePrefix('st');
  let seq = 0;
  const channel = (tag: string) => `${prefix}.${tag}${++seq}`;

  const define = (
    name: string,
    body: (open: (o?: Partial<StorageFactoryOptions>) => Promise<Storage>) => Promise<void>,
  ) =>
    test(`${label}: ${name}`, async () => {
      const res = new Resources<Storage>();
      const open = async (o: Partial<StorageFactoryOptions> = {}) =>
        res.add(await createStorage({ dedupWindow: 120_000, ...o }));
      try {
        await body(open);
      } finally {
        await res.closeAll();
      }
    });

  define('a new stream is at offset 0 with a stable non-empty epoch', async (open) => {
    const s = await open();
    const ch = channel('new');
    const a = await s.state(ch);
    assert.equal(a.offset, 0);
    assert.equal(a.earliest, 1);
    assert.ok(typeof a.epoch === 'string' && a.epoch.length > 0, 'epoch is a non-empty string');
    assert.equal((await s.state(ch)).epoch, a.epoch, 'epoch does not change while the data is intact');
    const r = await s.read(channel('unknown'), 0, 10);
    assert.deepEqual(r.messages, []);
    assert.equal(r.state.offset, 0);
  });

  define('appends get offsets 1, 2, 3 … in order and keep the epoch', async (open) => {
    const s = await open();
    const ch = channel('seq');
    const { epoch } = await s.state(ch);
    for (let i = 1; i <= 5; i++) {
      const r = await s.append(ch, JSON.stringify({ i }), KEEP);
      assert.deepEqual(r, { offset: i, epoch, duplicate: false });
    }
    assert.equal((await s.state(ch)).offset, 5);
  });

  define('reads return messages after an offset, in order, at most limit', async (open) => {
    const s = await open();
    const ch = channel('read');
    for (let i = 1; i <= 10; i++) await s.append(ch, JSON.stringify(i), KEEP);
    const all = await s.read(ch, 0, 100);
    assert.deepEqual(
      all.messages.map((m) => m.offset),
      [1, 2, 3, 4, 5, 6, 7, 8, 9, 10],
    );
    assert.deepEqual(
      all.messages.map((m) => JSON.parse(m.payload)),
      [1, 2, 3, 4, 5, 6, 7, 8, 9, 10],
    );
    assert.deepEqual({ offset: all.state.offset, earliest: all.state.earliest }, { offset: 10, earliest: 1 });
    assert.deepEqual(
      (await s.read(ch, 4, 3)).messages.map((m) => m.offset),
      [5, 6, 7],
    );
    assert.deepEqual(
      (await s.read(ch, 9, 100)).messages.map((m) => m.offset),
      [10],
    );
    assert.deepEqual((await s.read(ch, 10, 100)).messages, []);
  });

  define('payloads come back byte for byte', async (open) => {
    const s = await open();
    const ch = channel('bytes');
    const payloads = [
      '"h\u00e9llo \ud83d\ude00"',
      '{"a":"x:y\\n|z","b":[1,2.5,null]}',
      '"' + 'x'.repeat(70_000) + '"',
      '0',
      'null',
      '"\\u0000"',
    ];
    for (const p of payloads) await s.append(ch, p, KEEP);
    assert.deepEqual(
      (await s.read(ch, 0, 100)).messages.map((m) => m.payload),
      payloads,
    );
  });

  define('channels are independent streams', async (open) => {
    const s = await open();
    const a = channel('ia');
    const b = channel('ib');
    await s.append(a, '1', KEEP);
    await s.append(a, '2', KEEP);
    assert.equal((await s.append(b, '1', KEEP)).offset, 1);
    assert.deepEqual(
      (await s.read(b, 0, 10)).messages.map((m) => m.payload),
      ['1'],
    );
  });

  define(
    `${caps.sharedBackend ? 'two instances sharing one backend' : 'one instance'} assign ${2 * n} concurrent appends ${2 * n} unique contiguous offsets`,
    async (open) => {
      const s1 = await open();
      const s2 = caps.sharedBackend ? await open() : s1;
      const ch = channel('conc');
      const jobs: Array<Promise<AppendResult & { payload: string }>> = [];
      for (let i = 0; i < n; i++) {
        for (const [k, s] of [s1, s2].entries()) {
          const payload = JSON.stringify(`${k}-${i}`);
          jobs.push(s.append(ch, payload, KEEP).then((r) => ({ ...r, payload })));
        }
      }
      const results = await Promise.all(jobs);
      const offsets = results.map((r) => r.offset).sort((x, y) => x - y);
      assert.deepEqual(
        offsets,
        Array.from({ length: 2 * n }, (_, i) => i + 1),
        'offsets are 1..N with no gap and no repeat',
      );
      assert.equal(new Set(results.map((r) => r.epoch)).size, 1, 'one epoch');
      const byOffset = new Map(results.map((r) => [r.offset, r.payload]));
      const stored = [];
      for (let after = 0; after < 2 * n; ) {
        const page = (await s2.read(ch, after, 500)).messages;
        assert.ok(page.length > 0, `read after ${after} returned messages`);
        stored.push(...page);
        after = page[page.length - 1]!.offset;
      }
      for (const m of stored)
        assert.equal(
          m.payload,
          byOffset.get(m.offset),
          `offset ${m.offset} holds the payload that was given that offset`,
        );
      assert.equal(stored.length, 2 * n);
    },
  );

  define('trimming by size keeps the newest messages as one contiguous range', async (open) => {
    const s = await open();
    const ch = channel('size');
    for (let i = 1; i <= 12; i++) await s.append(ch, String(i), { size: 5, ttl: KEEP.ttl });
    const st = await s.state(ch);
    assert.deepEqual({ offset: st.offset, earliest: st.earliest }, { offset: 12, earliest: 8 });
    assert.deepEqual(
      (await s.read(ch, 0, 100)).messages.map((m) => m.offset),
      [8, 9, 10, 11, 12],
      'a read from before the window starts at the earliest kept',
    );
    assert.deepEqual(
      (await s.read(ch, 9, 100)).messages.map((m) => m.offset),
      [10, 11, 12],
    );
  });

  define('size 0 assigns offsets but keeps nothing', async (open) => {
    const s = await open();
    const ch = channel('size0');
    await s.append(ch, '1', { size: 0, ttl: KEEP.ttl });
    assert.equal((await s.append(ch, '2', { size: 0, ttl: KEEP.ttl })).offset, 2);
    const r = await s.read(ch, 0, 10);
    assert.deepEqual(r.messages, []);
    assert.deepEqual({ offset: r.state.offset, earliest: r.state.earliest }, { offset: 2, earliest: 3 });
  });

  if (caps.ttl) {
    define('trimming by age drops expired messages but keeps the offset and the epoch', async (open) => {
      const s = await open();
      const ch = channel('age');
      const ttl = 500;
      const t0 = performance.now();
      const first = await s.append(ch, '1', { size: 100, ttl });
      await s.append(ch, '2', { size: 100, ttl });
      const early = await s.read(ch, 0, 10);
      // On a loaded machine the read may come later than the ttl; only then may it be empty.
      if (performance.now() - t0 < ttl * 0.8)
        assert.equal(early.messages.length, 2, 'messages are readable before they expire');
      await waitFor(async () => (await s.state(ch)).earliest === 3, 'both messages to expire', 5_000);
      const st = await s.state(ch);
      assert.deepEqual(
        { offset: st.offset, epoch: st.epoch },
        { offset: 2, epoch: first.epoch },
        'expiry by age is not data loss',
      );
      assert.deepEqual((await s.read(ch, 0, 10)).messages, []);
      const next = await s.append(ch, '3', { size: 100, ttl: KEEP.ttl });
      assert.deepEqual({ offset: next.offset, epoch: next.epoch }, { offset: 3, epoch: first.epoch });
      assert.deepEqual(
        (await s.read(ch, 0, 10)).messages.map((m) => m.offset),
        [3],
      );
    });
  }

  if (caps.idempotency) {
    define('an idempotency key inside the window returns the first offset and stores nothing', async (open) => {
      const s1 = await open();
      const s2 = caps.sharedBackend ? await open() : s1;
      const ch = channel('idem');
      const a = await s1.append(ch, '"a"', { ...KEEP, idempotencyKey: 'k1' });
      const again = await s2.append(ch, '"a"', { ...KEEP, idempotencyKey: 'k1' });
      assert.deepEqual(again, { offset: a.offset, epoch: a.epoch, duplicate: true });
      const b = await s1.append(ch, '"b"', { ...KEEP, idempotencyKey: 'k2' });
      assert.equal(b.offset, a.offset + 1);
      assert.equal(
        (await s1.append(channel('idem-other'), '"a"', { ...KEEP, idempotencyKey: 'k1' })).duplicate,
        false,
        'keys are per channel',
      );
      assert.deepEqual(
        (await s1.read(ch, 0, 10)).messages.map((m) => m.payload),
        ['"a"', '"b"'],
      );
    });

    define('concurrent appends with one idempotency key store exactly once', async (open) => {
      const s1 = await open();
      const s2 = caps.sharedBackend ? await open() : s1;
      const ch = channel('idemc');
      const rs = await Promise.all(
        Array.from({ length: 20 }, (_, i) => (i % 2 ? s1 : s2).append(ch, '"x"', { ...KEEP, idempotencyKey: 'same' })),
      );
      assert.equal(rs.filter((r) => !r.duplicate).length, 1);
      assert.equal(new Set(rs.map((r) => r.offset)).size, 1);
      assert.equal((await s1.state(ch)).offset, 1);
    });

    define('an idempotency key is still remembered at half the window', async (open) => {
      // Catches a window in the wrong unit (seconds read as ms, ms as µs): immediate retries
      // pass with a window 1,000× too short, a retry at half the window does not.
      const dedupWindow = 2_000;
      const s = await open({ dedupWindow });
      const ch = channel('idemhalf');
      const t0 = performance.now();
      const a = await s.append(ch, '"a"', { ...KEEP, idempotencyKey: 'k' });
      await delay(dedupWindow / 2);
      const retry = await s.append(ch, '"a"', { ...KEEP, idempotencyKey: 'k' });
      // On a loaded machine the retry may come late; only a retry well inside the window must be a duplicate.
      if (performance.now() - t0 < dedupWindow * 0.8) {
        assert.deepEqual(
          { offset: retry.offset, duplicate: retry.duplicate },
          { offset: a.offset, duplicate: true },
          'a retry at half the window is a duplicate',
        );
      }
    });

    define('an idempotency key after the window stores the message again', async (open) => {
      const dedupWindow = 500;
      const s = await open({ dedupWindow });
      const ch = channel('idemx');
      const t0 = performance.now();
      const a = await s.append(ch, '"a"', { ...KEEP, idempotencyKey: 'k' });
      const inside = await s.append(ch, '"a"', { ...KEEP, idempotencyKey: 'k' });
      // On a loaded machine the retry may come after the window; only then may it be stored.
      if (performance.now() - t0 < dedupWindow * 0.8)
        assert.equal(inside.duplicate, true, 'a retry inside the window is a duplicate');
      if (!inside.duplicate) return;
      await delay(dedupWindow * 2 + 100);
      const b = await s.append(ch, '"a"', { ...KEEP, idempotencyKey: 'k' });
      assert.deepEqual({ offset: b.offset, duplicate: b.duplicate }, { offset: a.offset + 1, duplicate: false });
    });
  }

  if (loseData) {
    define('a stream whose data was lost comes back with a new epoch, starting again at offset 1', async (open) => {
      const s = await open();
      const ch = channel('loss');
      const before = await s.append(ch, '1', { ...KEEP, idempotencyKey: caps.idempotency ? 'k' : undefined });
      await s.append(ch, '2', KEEP);
      await loseData(s, ch);
      const st = await s.state(ch);
      assert.notEqual(st.epoch, before.epoch, 'the epoch changed');
      assert.equal(st.offset, 0);
      const after = await s.append(ch, '3', { ...KEEP, idempotencyKey: caps.idempotency ? 'k' : undefined });
      assert.deepEqual(
        after,
        { offset: 1, epoch: st.epoch, duplicate: false },
        'an idempotency key of the lost stream does not point into the new one',
      );
      assert.deepEqual(
        (await s.read(ch, 0, 10)).messages.map((m) => m.payload),
        ['3'],
      );
    });
  }
}
