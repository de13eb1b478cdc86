// Forked switchyard nodes (test/redis/fixtures/node.ts) and clients that fail over between them.
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import WebSocket from 'ws';
import { connect, type Client, type ClientOptions, type WebSocketConstructor } from '../../adapters/client-node.js';

const FIXTURE = fileURLToPath(new URL('./fixtures/node.ts', import.meta.url));

interface Tap {
  teardown(fn: () => unknown): void;
}

export interface NodeProcess {
  proc: ChildProcess;
  port: number;
  url: string;
  /** SIGKILL, as a crash: no close frames, no cleanup. Resolves when the process is gone. */
  kill(): Promise<void>;
}

// Only the TypeScript loader tap runs us with; coverage hooks would slow every child down.
const loader = process.execArgv.filter((a) => a.includes('@tapjs/typescript'));
const execArgv = loader.length ? loader : ['--import=@tapjs/typescript/import'];

/** Forks one node on the Redis at `redisUrl`; killed in teardown if still running. */
export async function startNode(
  t: Tap,
  redisUrl: string,
  keyPrefix: string,
  extraEnv: Record<string, string> = {},
): Promise<NodeProcess> {
  const env: NodeJS.ProcessEnv = { ...process.env, REDIS_URL: redisUrl, KEY_PREFIX: keyPrefix, ...extraEnv };
  delete env.NODE_OPTIONS;
  const proc = fork(FIXTURE, [], { env, execArgv, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const gone = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
  const kill = async () => {
    if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
    await gone;
  };
  t.teardown(kill);
  const port = await new Promise<number>((resolve, reject) => {
    proc.once('message', (m: { port: number }) => resolve(m.port));
    proc.once('exit', (code) => reject(new Error(`node exited with ${code} before listening`)));
  });
  return { proc, port, url: `ws://127.0.0.1:${port}/realtime`, kill };
}

/**
 * A WebSocket constructor that ignores the URL it is given and walks `urls` round-robin,
 * starting at `first`: the client SDK has a single URL, so this is how a test client fails
 * over to another node when its node dies (a load balancer does the same in production).
 */
export function failoverWebSocket(urls: string[], first = 0): WebSocketConstructor {
  let next = first;
  return class extends WebSocket {
    constructor(_url: string, protocols: string[]) {
      super(urls[next++ % urls.length]!, protocols);
    }
  } as unknown as WebSocketConstructor;
}

/** A client on `urls[first]` that fails over to the others; closed in teardown. */
export function failoverClient(t: Tap, urls: string[], first: number, options: ClientOptions = {}): Client {
  const c = connect(urls[first]!, {
    reconnect: { minDelay: 20, maxDelay: 200 },
    WebSocket: failoverWebSocket(urls, first),
    ...options,
  });
  t.teardown(() => c.close());
  return c;
}

/** What one subscriber's handler saw, and the three numbers that must be zero. */
export class Tally {
  readonly offsets: number[] = [];
  readonly data: unknown[] = [];

  add(offset: number, data: unknown): void {
    this.offsets.push(offset);
    this.data.push(data);
  }

  /** Counts against the expected offsets 1..n. */
  check(n: number): { lost: number; duplicated: number; reordered: number } {
    const seen = new Set<number>();
    let duplicated = 0;
    let reordered = 0;
    this.offsets.forEach((o, i) => {
      if (seen.has(o)) duplicated++;
      seen.add(o);
      if (i > 0 && o < this.offsets[i - 1]!) reordered++;
    });
    let lost = 0;
    for (let o = 1; o <= n; o++) if (!seen.has(o)) lost++;
    return { lost, duplicated, reordered };
  }
}
