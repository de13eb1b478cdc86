/**
 * `switchyardjs/testing`: the conformance suites every storage, broker and presence adapter runs. They
 * are runner-agnostic: pass your runner's test function and a factory; assertions use
 * `node:assert`. See docs/storage-adapters.md.
 *
 * ```ts
 * import { test } from 'node:test';
 * import { storageConformance } from 'switchyardjs/testing';
 * storageConformance({ test, createStorage: () => new MyStorage(), capabilities: { sharedBackend: true, ttl: true, idempotency: true } });
 * ```
 * @module switchyard/testing
 */
export type { Capabilities, TestFunction } from './common.js';
export { storageConformance, type StorageConformanceOptions, type StorageFactoryOptions } from './storage.js';
export { brokerConformance, type BrokerConformanceOptions } from './broker.js';
export { presenceConformance, type PresenceCapabilities, type PresenceConformanceOptions } from './presence.js';
