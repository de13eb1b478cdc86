// A TCP proxy on 127.0.0.1 that adds a fixed delay to every byte in each direction: a stand-in
// for the link between two data centres in the region tests (replication link, writes from a
// far region, WebSocket connections to a far node). Order is kept: each chunk is forwarded
// `delayMs` after it arrived. It runs in a process of its own (delay-proxy-process.mjs), so a
// busy test process cannot stall the link; that process is stopped by PID in teardown.
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export interface DelayProxy {
  /** Port the proxy listens on. */
  readonly port: number;
  /** Changes the one-way delay of every connection, ms (0: forward at once). */
  setDelay(ms: number): Promise<void>;
  /**
   * Holds every byte in both directions until `resume()` (a stalled link), without closing
   * anything; with `only`, just on the connections whose first bytes from the client match
   * (e.g. /PSYNC/ for a Redis replication link, leaving other clients of the link alone).
   */
  pause(only?: RegExp): Promise<void>;
  resume(): Promise<void>;
  /** Stops the proxy process (every connection through it drops). */
  close(): Promise<void>;
}

const script = fileURLToPath(new URL('./delay-proxy-process.mjs', import.meta.url));

/** Starts a proxy to 127.0.0.1:`target` adding `delayMs` each way; stopped in `t.teardown`. */
export async function startDelayProxy(
  t: { teardown(fn: () => unknown): void },
  target: number,
  delayMs: number,
): Promise<DelayProxy> {
  // Plain node, without the test runner's loaders: the proxy is JavaScript.
  const proc: ChildProcess = fork(script, [String(target), String(delayMs)], {
    execArgv: [],
    stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
  });
  const close = async () => {
    if (proc.exitCode !== null || proc.signalCode !== null) return;
    const exited = new Promise((resolve) => proc.once('exit', resolve));
    proc.kill('SIGKILL');
    await exited;
  };
  t.teardown(close);
  const port = await new Promise<number>((resolve, reject) => {
    proc.once('message', (m: { port: number }) => resolve(m.port));
    proc.once('exit', (code) => reject(new Error(`delay proxy exited (${code})`)));
  });
  let next = 0;
  const ask = (m: object) =>
    new Promise<void>((resolve) => {
      const id = ++next;
      const onMessage = (r: { ok?: number }) => {
        if (r.ok !== id) return;
        proc.off('message', onMessage);
        resolve();
      };
      proc.on('message', onMessage);
      proc.send({ ...m, id });
    });
  return {
    port,
    setDelay: (ms) => ask({ op: 'delay', ms }),
    pause: (only = /(?:)/) => ask({ op: 'pause', only: only.source }),
    resume: () => ask({ op: 'resume' }),
    close,
  };
}
