/** The default single-node engine: {@link MemoryStorage} with a {@link LocalBroker}. @module */
import { LocalBroker } from './broker-local.js';
import type { Engine } from './engine.js';
import { MemoryStorage, type MemoryStorageOptions } from './history-memory.js';

/** Creates the in-memory engine (the hub's default). */
export function memoryEngine(options: MemoryStorageOptions = {}): Engine & { storage: MemoryStorage } {
  return { storage: new MemoryStorage(options), broker: new LocalBroker() };
}
