/**
 * `switchyard loadtest`: parses arguments, runs the test with a live progress line on a TTY,
 * prints the report (table or `--json`) and returns the exit status.
 * @module
 */
import { createRequire } from 'node:module';
import { HELP, parseConfig, RunError, UsageError } from './config.js';
import { formatProgress, formatReport } from './report.js';
import { runLoadtest, type Progress } from './run.js';

/** The package's version, read through the package's own name (its exports include package.json). */
export const VERSION: string = createRequire(import.meta.url)('switchyardjs/package.json').version;

/** Runs the CLI; resolves with the exit status (0 pass, 1 correctness failure or crash, 2 usage). */
export async function main(argv: string[]): Promise<number> {
  let cfg;
  try {
    cfg = parseConfig(argv);
  } catch (err) {
    if (err instanceof UsageError) {
      process.stderr.write(`switchyard loadtest: ${err.message}\n`);
      return 2;
    }
    throw err;
  }
  if (cfg === 'help') {
    process.stdout.write(HELP + '\n');
    return 0;
  }
  if (cfg === 'version') {
    process.stdout.write(`switchyard ${VERSION}\n`);
    return 0;
  }
  const tty = cfg.progress && process.stderr.isTTY === true;
  let last: Progress | undefined;
  const onProgress = tty
    ? (p: Progress): void => {
        const rate = last ? ((p.handled - last.handled) * 1000) / Math.max(1, p.elapsed - last.elapsed) : 0;
        last = p;
        process.stderr.write('\r\x1b[2K' + formatProgress(p, rate));
      }
    : undefined;
  try {
    const report = await runLoadtest(cfg, onProgress);
    if (tty) process.stderr.write('\r\x1b[2K');
    process.stdout.write((cfg.json ? JSON.stringify(report, null, 2) : formatReport(report)) + '\n');
    return report.passed ? 0 : 1;
  } catch (err) {
    if (tty) process.stderr.write('\n');
    // A known reason is one sentence; anything else is a bug worth its stack.
    process.stderr.write(
      `switchyard loadtest: ${err instanceof RunError ? err.message : ((err as Error).stack ?? String(err))}\n`,
    );
    return 1;
  }
}
