/**
 * Counts the instructions a process runs between two points, with valgrind's callgrind tool
 * (`callgrind_control -z` / `-d`). Unlike CPU seconds, the count does not change with what else
 * the machine is doing, so a before/after pair measured on a busy machine still compares.
 * Only user-space instructions of the process are counted (not the kernel's socket work).
 * @module
 */
import { execFile } from 'node:child_process';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** The command prefix that starts a server under callgrind, dumping into `dir`. */
export function callgrindWrapper(dir: string): string[] {
  return ['valgrind', '--tool=callgrind', '--collect-atstart=yes', `--callgrind-out-file=${join(dir, 'cg.out')}`];
}

/** Zeroes the counters of the callgrind process `pid`. */
export async function zeroInstructions(pid: number): Promise<void> {
  await run('callgrind_control', ['-z', String(pid)]);
}

/** Dumps the counters of `pid` (since the last zero) and returns the instructions counted. */
export async function dumpInstructions(pid: number, dir: string): Promise<number> {
  const before = new Set(await readdir(dir));
  await run('callgrind_control', ['-d', String(pid)]);
  const dump = (await readdir(dir)).find((f) => f.startsWith('cg.out') && !before.has(f));
  if (!dump) throw new Error('callgrind wrote no dump');
  const text = await readFile(join(dir, dump), 'utf8');
  const m = /^(?:summary|totals): (\d+)/m.exec(text);
  if (!m) throw new Error(`no instruction total in ${dump}`);
  return Number(m[1]);
}
