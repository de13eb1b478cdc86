// The in-memory engine against the exported conformance suites.
import t from 'tap';
import { MemoryStorage } from '../../lib/history-memory.js';
import { LocalBroker } from '../../lib/broker-local.js';
import { brokerConformance, storageConformance } from '../../lib/testing/index.js';

const test = (name: string, fn: () => Promise<void>) => t.test(name, async () => fn());

storageConformance({
  test,
  name: 'memory storage',
  createStorage: ({ dedupWindow }) => new MemoryStorage({ dedupWindow }),
  capabilities: { sharedBackend: false, ttl: true, idempotency: true },
  loseData: async (storage, channel) => (storage as MemoryStorage).evict(channel),
});

brokerConformance({
  test,
  name: 'local broker',
  createBroker: () => new LocalBroker(),
  capabilities: { sharedBackend: false, interestRouting: false },
});

// The suite must catch a de-duplication window in the wrong unit (issue 9 item 9): a store whose
// window is 1,000 times too short fails it.
t.test('the storage suite fails a store whose de-duplication window is 1,000× too short', async (t) => {
  const failures: string[] = [];
  const runs: Array<Promise<void>> = [];
  storageConformance({
    test: (name, fn) => void runs.push(fn().catch(() => void failures.push(name))),
    name: 'short window',
    createStorage: ({ dedupWindow }) =>
      new MemoryStorage({ dedupWindow: Math.max(1, Math.round(dedupWindow / 1_000)) }),
    capabilities: { sharedBackend: false, ttl: true, idempotency: true },
  });
  await Promise.all(runs);
  t.ok(
    failures.some((n) => /half the window/.test(n)),
    `failed: ${failures.join('; ')}`,
  );
});
