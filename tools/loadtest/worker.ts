/**
 * A load-test worker thread: runs its share of the simulated audience with the real client SDK,
 * checks every delivery, and reports totals and histograms to the coordinator.
 * @module
 */
import { performance } from 'node:perf_hooks';
import { parentPort, workerData } from 'node:worker_threads';
import WebSocket from 'ws';
import { Client, type WebSocketConstructor } from '../../lib/client/index.js';
import type { ClientPlan } from './audience.js';
import { authFor, type AuthTemplate } from './config.js';
import { addCounts, StreamChecker, type Pos } from './checker.js';
import { bump, emptyTotals, histogram, type WorkerProgress, type WorkerResult } from './stats.js';

/** Data a worker starts with. */
export interface WorkerInput {
  url: string;
  plans: ClientPlan[];
  /** Date.now() at which client 0 connects. */
  startAt: number;
  rampUp: number;
  totalClients: number;
  churnInterval: number;
  pauseInterval: number;
  pauseLength: number;
  auth: AuthTemplate;
}

/** Messages from the coordinator. */
export type ToWorker = { type: 'final'; positions: Record<string, Pos>; drain: number };
/** Messages to the coordinator. */
export type FromWorker = { type: 'progress'; progress: WorkerProgress } | { type: 'result'; result: WorkerResult };

const PROGRESS_MS = 500;

/** Wall-clock milliseconds with sub-millisecond precision, comparable across threads and processes. */
export const now = (): number => performance.timeOrigin + performance.now();

/** Exponentially distributed delay with the given mean (a memoryless "at random" event). */
const expDelay = (mean: number): number => Math.min(mean * 10, -Math.log(1 - Math.random()) * mean);

interface Sim {
  plan: ClientPlan;
  client?: Client;
  socket?: WebSocket;
  checker: StreamChecker;
  connected: boolean;
  subscribed: boolean;
  paused: boolean;
  timer?: ReturnType<typeof setTimeout>;
  pauseTimer?: ReturnType<typeof setTimeout>;
}

function run(input: WorkerInput): void {
  const port = parentPort!;
  const totals = emptyTotals();
  const connectLatency = histogram();
  const deliveryLatency = histogram();
  const sims: Sim[] = [];
  let stopping = false;
  let subscribedCount = 0;
  const startTimers: Array<ReturnType<typeof setTimeout>> = [];

  const scheduleChurn = (s: Sim): void => {
    s.timer = setTimeout(() => {
      if (stopping) return;
      // Like a phone entering a tunnel: the socket dies without a close handshake.
      if (s.socket && s.socket.readyState === WebSocket.OPEN) {
        totals.forcedDrops++;
        s.socket.terminate();
      }
      scheduleChurn(s);
    }, expDelay(input.churnInterval));
  };

  const schedulePause = (s: Sim): void => {
    s.pauseTimer = setTimeout(() => {
      if (stopping) return;
      const sock = s.socket;
      if (sock && sock.readyState === WebSocket.OPEN) {
        // Stop reading, like a backgrounded app: the server's send queue for us grows.
        totals.pauses++;
        s.paused = true;
        sock.pause();
        s.pauseTimer = setTimeout(() => {
          s.paused = false;
          sock.resume();
          schedulePause(s);
        }, input.pauseLength);
      } else schedulePause(s);
    }, expDelay(input.pauseInterval));
  };

  const startClient = (s: Sim): void => {
    const t0 = performance.now();
    // The SDK takes a WebSocket constructor; this one remembers the socket so churn and pauses
    // can act on it the way a network would, without a hook in the SDK.
    const { token, headers } = authFor(input.auth, s.plan.index);
    // biome-ignore lint/complexity/useArrowFunction: the client calls it with `new`, which an arrow function refuses.
    const Factory = function (url: string, protocols: string[]) {
      const ws = new WebSocket(url, protocols, { headers });
      s.socket = ws;
      return ws;
    } as unknown as WebSocketConstructor;
    const client = new Client(input.url, { WebSocket: Factory, ...(token !== undefined && { token }) });
    s.client = client;
    client.on('connected', () => {
      if (!s.connected) {
        s.connected = true;
        totals.connected++;
        connectLatency.record(Math.max(1, Math.round((performance.now() - t0) * 1000)));
      } else totals.reconnects++;
    });
    client.on('disconnected', ({ code }) => bump(totals.closes, code));
    client.on('closed', ({ code, reason }) => {
      if (!stopping) bump(totals.errors, `client stopped (close ${code}${reason ? `: ${reason}` : ''})`);
    });
    client.on('error', (err) => bump(totals.errors, `error ${(err as { code?: number }).code ?? err.message}`));
    const qos = s.plan.qos;
    const sub = client.subscribe<{ t?: number }>(
      s.plan.channel,
      (msg) => {
        totals.handled++;
        s.checker.message(msg.offset, msg.epoch);
        const t = msg.data?.t;
        if (typeof t === 'number') deliveryLatency.record(Math.max(1, Math.round((now() - t) * 1000)));
      },
      { qos },
    );
    sub.on('subscribed', (res) => {
      if (!s.subscribed) {
        s.subscribed = true;
        subscribedCount++;
        s.checker.begin(res.position);
      } else if (res.recovered) totals.recoveries.succeeded++;
      else totals.recoveries.failed++;
    });
    sub.on('discontinuity', (d) => {
      bump(totals.discontinuities, d.reason);
      s.checker.discontinuity(d.position);
    });
    sub.on('drop', (n) => (totals.droppedNotices += n));
    sub.on('error', (err) => bump(totals.errors, `subscribe refused: ${err.message}`));
    if (s.plan.churns) scheduleChurn(s);
    if (s.plan.pauses) schedulePause(s);
  };

  for (const plan of input.plans) {
    const s: Sim = { plan, checker: new StreamChecker(), connected: false, subscribed: false, paused: false };
    sims.push(s);
    const at = input.startAt + (input.totalClients > 1 ? (input.rampUp * plan.index) / input.totalClients : 0);
    startTimers.push(setTimeout(() => startClient(s), Math.max(0, at - Date.now())));
  }

  const progress = setInterval(() => {
    const p: WorkerProgress = {
      connected: totals.connected,
      subscribed: subscribedCount,
      handled: totals.handled,
      reconnects: totals.reconnects,
    };
    port.postMessage({ type: 'progress', progress: p } satisfies FromWorker);
  }, PROGRESS_MS);

  port.on('message', (m: ToWorker) => {
    if (m.type !== 'final') return;
    stopping = true;
    for (const t of startTimers) clearTimeout(t);
    for (const s of sims) {
      clearTimeout(s.timer);
      clearTimeout(s.pauseTimer);
      if (s.paused) {
        s.paused = false;
        s.socket?.resume();
      }
    }
    const deadline = Date.now() + m.drain;
    const check = (): void => {
      const done = sims.every((s) => s.checker.reached(m.positions[s.plan.channel]));
      if (!done && Date.now() < deadline) return void setTimeout(check, 50);
      clearInterval(progress);
      for (const s of sims) {
        totals.clients++;
        if (!s.connected) totals.neverConnected++;
        if (!s.subscribed) totals.neverSubscribed++;
        addCounts(totals.qos[s.plan.qos], s.checker.finish(m.positions[s.plan.channel]));
      }
      port.postMessage({ type: 'result', result: { totals, connectLatency, deliveryLatency } } satisfies FromWorker);
      for (const s of sims) s.client?.close();
    };
    check();
  });
}

if (parentPort && workerData) run(workerData as WorkerInput);
