/**
 * The node list of a cluster: every hub announces itself on the engine's broker every few
 * seconds on a reserved channel no client can name (`$` is not allowed in channel names), and
 * remembers who else did. With the in-memory engine the list is this node alone; with a shared
 * broker (Redis) it is every node that announced within three intervals.
 * @module
 */
import type { Broker, BrokerMessage } from './engine.js';
import { randomHex } from './random-id.js';

/** The broker channel node announcements travel on. */
export const NODES_CHANNEL = '$switchyard.nodes';
/** Milliseconds between announcements; a node silent for three of them is dropped from the list. */
export const ANNOUNCE_INTERVAL_MS = 5_000;

/** What a node says about itself. */
export interface NodeInfo {
  /** Random id of the hub, new each start. */
  id: string;
  /** `os.hostname()`-style name the node reports (process title and pid when unknown). */
  name: string;
  /** Open connections on the node when it last announced. */
  connections: number;
  /** `Date.now()` when the hub started. */
  startedAt: number;
  /** `Date.now()` when this node last heard from it (this node: now). */
  seenAt: number;
}

/** Keeps this node's view of the cluster. @internal */
export class NodeDirectory {
  readonly id = randomHex(6);
  private readonly startedAt = Date.now();
  private readonly peers = new Map<string, NodeInfo>();
  private seq = 0;
  private due = 0;
  private started = false;

  constructor(
    private readonly broker: Broker,
    private readonly name: string,
    private readonly connections: () => number,
  ) {}

  /** Subscribes to announcements and sends the first; failures only leave the list shorter. */
  async start(): Promise<void> {
    await this.broker.subscribe(NODES_CHANNEL);
    this.started = true;
    this.announce(false);
  }

  /** Announces when due (called from the hub's timer). */
  tick(t: number): void {
    if (this.started && t >= this.due) this.announce(false);
  }

  /** Tells the others this node is leaving, so they drop it at once. */
  leave(): Promise<void> {
    if (!this.started) return Promise.resolve();
    this.started = false;
    return this.publish(true);
  }

  /** An announcement from the broker (possibly this node's own). Malformed ones are ignored. */
  receive(m: BrokerMessage): void {
    let v: unknown;
    try {
      v = JSON.parse(m.payload);
    } catch {
      return;
    }
    if (typeof v !== 'object' || v === null) return;
    const o = v as Record<string, unknown>;
    if (m.epoch === this.id || typeof m.epoch !== 'string' || m.epoch.length > 64) return;
    if (o.leaving === true) return void this.peers.delete(m.epoch);
    if (typeof o.name !== 'string' || typeof o.connections !== 'number' || typeof o.startedAt !== 'number') return;
    // Bounded: a flood of fake ids cannot grow the map past this.
    const known = this.peers.has(m.epoch);
    if (!known && this.peers.size >= 1_000) return;
    this.peers.set(m.epoch, {
      id: m.epoch,
      name: o.name.slice(0, 200),
      connections: o.connections,
      startedAt: o.startedAt,
      seenAt: Date.now(),
    });
    // A newcomer hears of this node now rather than at its next announcement.
    if (!known && this.started) this.announce(false);
  }

  /** This node first, then every peer heard from within three intervals. */
  list(): NodeInfo[] {
    const cutoff = Date.now() - 3 * ANNOUNCE_INTERVAL_MS;
    for (const [id, n] of this.peers) if (n.seenAt < cutoff) this.peers.delete(id);
    const self: NodeInfo = {
      id: this.id,
      name: this.name,
      connections: this.connections(),
      startedAt: this.startedAt,
      seenAt: Date.now(),
    };
    return [self, ...this.peers.values()];
  }

  private announce(leaving: boolean): void {
    this.due = performance.now() + ANNOUNCE_INTERVAL_MS;
    void this.publish(leaving);
  }

  private publish(leaving: boolean): Promise<void> {
    const payload = JSON.stringify(
      leaving ? { leaving: true } : { name: this.name, connections: this.connections(), startedAt: this.startedAt },
    );
    // offset/epoch make each announcement distinct for brokers that de-duplicate by them.
    return this.broker.publish({ channel: NODES_CHANNEL, offset: ++this.seq, epoch: this.id, payload }).catch(() => {});
  }
}
