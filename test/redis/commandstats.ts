// Redis' own count of the commands it ran (INFO commandstats), to measure what a publish costs.
import { cli } from './servers.js';

/** Calls per command (lower-case name, e.g. `evalsha`, `hincrby`) and total µs, from INFO commandstats. */
export async function commandStats(port: number): Promise<Map<string, { calls: number; usec: number }>> {
  const out = await cli(port, 'INFO', 'commandstats');
  const stats = new Map<string, { calls: number; usec: number }>();
  for (const m of out.matchAll(/^cmdstat_([^:]+):calls=(\d+),usec=(\d+)/gm))
    stats.set(m[1]!, { calls: Number(m[2]), usec: Number(m[3]) });
  return stats;
}

/** Per-command call differences between two snapshots (commands that ran at least once). */
export function statsDelta(
  before: Map<string, { calls: number; usec: number }>,
  after: Map<string, { calls: number; usec: number }>,
): Record<string, number> {
  const d: Record<string, number> = {};
  for (const [k, v] of after) {
    const n = v.calls - (before.get(k)?.calls ?? 0);
    if (n > 0) d[k] = n;
  }
  return d;
}
