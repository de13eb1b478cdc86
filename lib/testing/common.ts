/** Shared types and helpers of the conformance suites. @module */
import { randomHex } from '../random-id.js';

/**
 * The test function of your runner, e.g. `(name, fn) => t.test(name, fn)` for node-tap,
 * `it` for mocha/vitest/jest, or `test` from `node:test`. It must await the returned promise
 * and report a rejection as a failure.
 */
export type TestFunction = (name: string, fn: () => Promise<void>) => unknown;

/**
 * What an adapter can do. The suites skip (do not register) the tests a missing capability
 * makes meaningless, so an adapter states its limits once, here, instead of failing tests.
 * The set of flags is fixed; new ones are only ever added as optional.
 */
export interface Capabilities {
  /** Two instances made by the factory share one backend (two nodes of a cluster). */
  sharedBackend: boolean;
  /** Retention by age (`Retention.ttl`) is implemented. */
  ttl: boolean;
  /** Idempotency keys (`AppendOptions.idempotencyKey`) are implemented. */
  idempotency: boolean;
  /** The broker delivers only channels a node declared interest in. */
  interestRouting: boolean;
}

/** A unique, valid channel-name prefix so runs against a shared backend never collide. */
export function uniquePrefix(tag: string): string {
  return `conf-${tag}-${Date.now().toString(36)}-${randomHex(4)}`;
}

/** Resolves after `ms` milliseconds (used only where the contract itself is about time). */
export function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Polls `pred` until it holds, failing with `what` after `ms` milliseconds. */
export async function waitFor(pred: () => boolean | Promise<boolean>, what: string, ms = 5_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await pred())) {
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await delay(5);
  }
}

/** Tracks resources a test opened so they are closed even when an assertion fails. */
export class Resources<T extends { close(): Promise<void> }> {
  private readonly items: T[] = [];

  add(item: T): T {
    this.items.push(item);
    return item;
  }

  async closeAll(): Promise<void> {
    await Promise.allSettled(this.items.splice(0).map((i) => i.close()));
  }
}
