/**
 * The default {@link PresenceStore}: members of each channel in this process's memory. Right
 * for one node; with a multi-node engine each node sees only its own connections.
 * @module
 */
import type { PresenceMembers, PresenceStore, StoredPresenceMember } from './engine.js';

/** In-memory presence: a map per channel, dropped when its last member leaves. */
export class MemoryPresence implements PresenceStore {
  // Maps keep insertion order, so a truncated page lists the longest-present members.
  private readonly channels = new Map<string, Map<string, string | undefined>>();

  /** {@inheritDoc PresenceStore.join} */
  async join(channel: string, connectionId: string, info: string | undefined): Promise<void> {
    let m = this.channels.get(channel);
    if (!m) this.channels.set(channel, (m = new Map()));
    m.set(connectionId, info);
  }

  /** {@inheritDoc PresenceStore.leave} */
  async leave(channel: string, connectionId: string): Promise<void> {
    const m = this.channels.get(channel);
    if (m?.delete(connectionId) && m.size === 0) this.channels.delete(channel);
  }

  /** {@inheritDoc PresenceStore.members} */
  async members(channel: string, limit: number): Promise<PresenceMembers> {
    const m = this.channels.get(channel);
    const members: StoredPresenceMember[] = [];
    if (!m) return { members, truncated: false };
    for (const [connectionId, info] of m) {
      if (members.length >= limit) break;
      members.push({ connectionId, info });
    }
    return { members, truncated: m.size > members.length };
  }

  /** Number of channels with at least one member (for tests and metrics). */
  get channelCount(): number {
    return this.channels.size;
  }

  /** {@inheritDoc PresenceStore.close} */
  async close(): Promise<void> {
    this.channels.clear();
  }
}
