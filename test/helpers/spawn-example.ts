// Starts an example server as a child process on a free port and stops it (by PID) in teardown.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export interface RunningExample {
  url: string;
  port: number;
  pid: number;
}

export async function startExample(
  t: { teardown(fn: () => unknown): void },
  script: string,
  env: Record<string, string> = {},
): Promise<RunningExample> {
  const root = fileURLToPath(new URL('../..', import.meta.url));
  const child = spawn(process.execPath, [script], {
    cwd: root,
    env: { ...process.env, PORT: '0', HOST: '127.0.0.1', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  t.teardown(
    () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
        setTimeout(() => child.kill('SIGKILL'), 5_000).unref();
      }),
  );
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (d) => {
      out += d;
      const m = /listening on (http:\/\/[^\s]+?:(\d+))/.exec(out);
      if (m) resolve({ url: m[1]!, port: Number(m[2]), pid: child.pid! });
    });
    child.once('exit', (code) => reject(new Error(`${script} exited with ${code} before listening: ${stderr}`)));
  });
}
