// Redis availability, throwaway redis-server processes, and engine factories for the Redis tests.
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer, Socket } from 'node:net';
import { createClient } from 'redis';
import { redisEngine, type RedisEngineOptions, type RedisStorage } from '../../adapters/redis/index.js';

export const REDIS_URL = process.env.SWITCHYARD_REDIS_URL ?? 'redis://127.0.0.1:6379';

interface Tap {
  teardown(fn: () => unknown): void;
  skip?: unknown;
  plan?: unknown;
}

/** Whether something answers PING at `url` within 1 s. */
export async function redisAnswers(url = REDIS_URL): Promise<boolean> {
  const c = createClient({
    url,
    disableOfflineQueue: true,
    socket: { connectTimeout: 1_000, reconnectStrategy: false },
  });
  c.on('error', () => {});
  try {
    await c.connect();
    return (await c.ping()) === 'PONG';
  } catch {
    return false;
  } finally {
    if (c.isOpen) c.destroy();
  }
}

/**
 * Resolves true when Redis is there. Otherwise fails when SWITCHYARD_REQUIRE_REDIS=1 (CI) and
 * resolves false after printing why the file is skipped.
 */
export async function needRedis(url = REDIS_URL): Promise<boolean> {
  if (await redisAnswers(url)) return true;
  if (process.env.SWITCHYARD_REQUIRE_REDIS === '1')
    throw new Error(`Redis does not answer at ${url} and SWITCHYARD_REQUIRE_REDIS=1`);
  console.log(
    `# SKIP: Redis does not answer at ${url} (start redis-server, or set SWITCHYARD_REDIS_URL); set SWITCHYARD_REQUIRE_REDIS=1 to fail instead`,
  );
  return false;
}

/** A unique key prefix per test run, so runs against a shared Redis never see each other's data. */
export function uniqueKeyPrefix(tag: string): string {
  return `sy-test:${tag}:${process.pid}:${Math.random().toString(36).slice(2, 8)}:`;
}

/** A redis engine closed in teardown (storage and broker). */
export function engineFor(t: Tap, options: RedisEngineOptions) {
  const e = redisEngine({ connectTimeout: 2_000, ...options });
  t.teardown(async () => {
    await e.broker.close();
    await e.storage.close();
  });
  return e;
}

/** A free TCP port on 127.0.0.1. */
export async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  const port = (srv.address() as { port: number }).port;
  await new Promise((resolve) => srv.close(resolve));
  return port;
}

/** A redis-server of our own (never the machine's), killed by PID. */
/** redis-server arguments for a server that keeps nothing on disk (the tests' default). */
export const NO_PERSISTENCE: readonly string[] = ['--save', '', '--appendonly', 'no'];

export class OwnRedis {
  proc: ChildProcess | undefined;
  constructor(
    readonly port: number,
    readonly args: readonly string[] = NO_PERSISTENCE,
    /** Arguments before `--port` (a config file must come first, e.g. for `--sentinel`). */
    readonly head: string[] = [],
    /** A command the server runs under, e.g. `['valgrind', '--tool=callgrind']` (the benchmarks count instructions). */
    readonly wrapper: string[] = [],
  ) {}

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    const [cmd, ...pre] = [...this.wrapper, 'redis-server'];
    const proc = spawn(
      cmd!,
      [...pre, ...this.head, '--port', String(this.port), '--bind', '127.0.0.1', '--daemonize', 'no', ...this.args],
      { stdio: 'ignore' },
    );
    this.proc = proc;
    const end = Date.now() + (this.wrapper.length ? 30_000 : 5_000);
    while (!(await portOpen(this.port))) {
      if (proc.exitCode !== null || Date.now() > end)
        throw new Error(`redis-server on port ${this.port} did not start`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  async stop(): Promise<void> {
    const proc = this.proc;
    // Already gone (exited, or killed by an earlier stop): its 'exit' event will not come again.
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
    const exited = new Promise((resolve) => proc.once('exit', resolve));
    proc.kill('SIGKILL');
    await exited;
  }
}

function portOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = new Socket();
    s.once('connect', () => (s.destroy(), resolve(true)));
    s.once('error', () => resolve(false));
    s.connect(port, '127.0.0.1');
  });
}

/** Starts an own redis-server on a free port (default: no persistence), stopped in teardown. */
export async function ownRedis(t: Tap, args?: string[]): Promise<OwnRedis> {
  const r = new OwnRedis(await freePort(), args);
  t.teardown(() => r.stop());
  await r.start();
  return r;
}

/** The engine's broker, closing the engine's storage with it (the broker publishes through the storage's client). */
export function brokerOf(e: ReturnType<typeof redisEngine>) {
  const close = e.broker.close.bind(e.broker);
  e.broker.close = async () => {
    await close();
    await e.storage.close();
  };
  return e.broker;
}

/** The engine's presence store; closing it closes the whole engine, as a crashed node would vanish. */
export function presenceOf(e: ReturnType<typeof redisEngine>) {
  const close = e.presence.close.bind(e.presence);
  e.presence.close = async () => {
    await close();
    await e.broker.close();
    await e.storage.close();
  };
  return e.presence;
}

/** Deletes a stream's keys, as a restart without persistence would (the idempotency key survives). */
export async function loseStream(storage: unknown, channel: string): Promise<void> {
  const s = storage as RedisStorage;
  const k = s.keys(channel);
  await (s as unknown as { conn: { run(a: string[]): Promise<unknown> } }).conn.run(['DEL', k.meta, k.log]);
}
