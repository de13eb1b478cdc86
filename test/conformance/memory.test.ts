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
