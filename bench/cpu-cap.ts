/**
 * Caps a process at a fraction of one core with a Linux CPU cgroup (v2 `cpu.max`, or v1
 * `cpu.cfs_quota_us`), so a benchmark can make Redis the bottleneck on a machine with fewer
 * cores than servers: each capped redis-server behaves like a slower, dedicated one. Needs write
 * access to /sys/fs/cgroup (root); throws with what to do instead otherwise.
 * @module
 */
import { existsSync } from 'node:fs';
import { mkdir, readFile, rmdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

const PERIOD_US = 100_000;

/** Where CPU cgroups live here: the v2 unified root, or the v1 `cpu` controller. */
function cgroupRoot(): { dir: string; v2: boolean } {
  if (existsSync('/sys/fs/cgroup/cgroup.controllers')) return { dir: '/sys/fs/cgroup', v2: true };
  if (existsSync('/sys/fs/cgroup/cpu/cpu.cfs_quota_us')) return { dir: '/sys/fs/cgroup/cpu', v2: false };
  throw new Error('--redis-cpu needs a CPU cgroup (/sys/fs/cgroup v1 cpu controller or v2); run without it');
}

/** Puts `pid` in a new cgroup limited to `cores` (e.g. 0.2) of one core; resolves to its removal. */
export async function capCpu(pid: number, cores: number): Promise<() => Promise<void>> {
  if (!(cores > 0 && cores <= 64)) throw new Error(`--redis-cpu: ${cores} is not a number of cores in (0, 64]`);
  const { dir: root, v2 } = cgroupRoot();
  const dir = join(root, `switchyard-bench-${pid}`);
  const quota = String(Math.round(cores * PERIOD_US));
  try {
    if (v2) {
      const controllers = await readFile(join(root, 'cgroup.subtree_control'), 'utf8');
      if (!controllers.split(/\s+/).includes('cpu')) await writeFile(join(root, 'cgroup.subtree_control'), '+cpu');
    }
    await mkdir(dir);
    if (v2) await writeFile(join(dir, 'cpu.max'), `${quota} ${PERIOD_US}`);
    else {
      await writeFile(join(dir, 'cpu.cfs_period_us'), String(PERIOD_US));
      await writeFile(join(dir, 'cpu.cfs_quota_us'), quota);
    }
    await writeFile(join(dir, 'cgroup.procs'), String(pid));
  } catch (err) {
    throw new Error(
      `--redis-cpu: could not create the CPU cgroup ${dir} (${(err as Error).message}); run as root or without it`,
    );
  }
  return async () => {
    // A cgroup can only be removed once empty: move the process back first if it still runs.
    await writeFile(join(root, 'cgroup.procs'), String(pid)).catch(() => {});
    await rmdir(dir).catch(() => {});
  };
}
