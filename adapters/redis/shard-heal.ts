/**
 * Re-making sharded subscriptions after a Redis Cluster shard moved or failed over. Used by the
 * broker (live messages) and by presence (join/leave events): both hold SSUBSCRIBEs that
 * node-redis does not always carry over by itself.
 * @module
 */
import type { RedisConnection } from './connection.js';

// Cluster events after which sharded subscriptions may be on the wrong (or a dead) node.
const SHARD_TROUBLE = ['sharded-channel-moved-error', 'node-reconnecting'];

interface Emitter {
  on(event: string, fn: (...args: unknown[]) => void): unknown;
  off?(event: string, fn: (...args: unknown[]) => void): unknown;
}

/**
 * node-redis moves sharded subscriptions when a slot moves, but a move it cannot complete (it
 * asked a node that did not know the new owner yet) is only reported as an event, and after a
 * shard's failover the subscriptions stay on the dead primary until its slots are rediscovered.
 * So on either sign of trouble, once no troubled address is still a primary, `remake` runs (it
 * subscribes everything again, on the shard that owns each slot now), retried until it succeeds;
 * then `healed` runs. Bounded: 240 attempts (about a minute) per episode.
 */
export class ShardHealer {
  private healing = false;
  private again = false;
  private stopped = false;
  /** Addresses of shard connections that dropped: healing waits until they are back or no longer primaries. */
  private readonly troubled = new Set<string>();

  constructor(
    private readonly conn: RedisConnection,
    private readonly remake: () => Promise<void>,
    private readonly healed: () => void,
  ) {}

  private get sub(): Emitter {
    return this.conn.sub as unknown as Emitter;
  }

  start(): void {
    for (const e of SHARD_TROUBLE) this.sub.on(e, this.onTrouble);
  }

  /** Starts healing as a sign of trouble would: for a move node-redis made without an event. */
  kick(): void {
    this.onTrouble();
  }

  stop(): void {
    this.stopped = true;
    for (const e of SHARD_TROUBLE) this.sub.off?.(e, this.onTrouble);
  }

  private readonly onTrouble = (...args: unknown[]) => {
    if (this.stopped) return;
    const node = args.find(
      (a): a is { host: string; port: number } =>
        typeof a === 'object' && a !== null && 'port' in a && 'host' in a && !(a instanceof Error),
    );
    if (node) this.troubled.add(`${node.host}:${node.port}`);
    this.again = true;
    if (!this.healing) void this.heal();
  };

  /** Whether a troubled address is still a primary in the subscriber's slot map. */
  private stillTroubled(): boolean {
    const masters =
      (this.conn.sub as unknown as { masters?: Array<{ host: string; port: number; client?: { isReady?: boolean } }> })
        .masters ?? [];
    for (const addr of [...this.troubled]) {
      const m = masters.find((x) => `${x.host}:${x.port}` === addr);
      if (!m || m.client?.isReady) this.troubled.delete(addr);
    }
    return this.troubled.size > 0;
  }

  private async heal(): Promise<void> {
    this.healing = true;
    try {
      for (let attempt = 0; attempt < 240 && !this.stopped; attempt++) {
        await new Promise((r) => setTimeout(r, attempt === 0 ? 100 : 250));
        // A dead primary keeps its slots until the cluster promoted its replica and node-redis
        // read the new slot map: subscribing before that would land on the dead connection.
        if (this.stillTroubled()) {
          this.conn.refreshTopology();
          continue;
        }
        this.again = false;
        try {
          await this.remake();
        } catch {
          this.conn.refreshTopology();
          continue;
        }
        if (this.again) continue;
        if (!this.stopped) this.healed();
        return;
      }
    } finally {
      this.healing = false;
    }
  }
}
