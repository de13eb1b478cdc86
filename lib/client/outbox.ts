/**
 * The QoS 1 outbox: publishes held across reconnects until stored exactly once (same message id
 * on every retry) or their `publishTimeout` passes, sent in order and paced under the server's
 * publish rate, retried after a transient server error with a growing, jittered delay.
 * @module
 */
import type { PublishResult } from '../protocol.js';
import { randomHex } from '../random-id.js';
import { backoffDelay } from './backoff.js';
import { ClientError, isRefusal, NO_ANSWER } from './errors.js';
import type { PublishPacer } from './pacer.js';

/**
 * Server errors after which a QoS 1 publish is retried with the same id: nothing was stored
 * (201), the node is going away (202), or the connection's publish rate was exceeded (106; the
 * retry waits for the bucket to refill).
 */
const RETRYABLE_PUBLISH_CODES = new Set([106, 201, 202]);
/** Smallest and largest ceiling of the jittered, growing delay before a QoS 1 publish is retried after a transient error. */
const RETRY_MIN_MS = 200;
const RETRY_MAX_MS = 5_000;

interface QueuedPublish {
  channel: string;
  data: unknown;
  mid: string;
  /** `performance.now()` after which the publish fails (monotonic: a wall-clock jump neither expires nor extends it). */
  deadline: number;
  /** Fires at the deadline even while disconnected, so a publish never waits forever. */
  expiry?: ReturnType<typeof setTimeout>;
  /** Pending retry after a transient server error. */
  retry?: ReturnType<typeof setTimeout> | undefined;
  /** Transient failures so far: each retry waits longer. */
  attempt: number;
  /** Sent on this connection and waiting for its reply. */
  inFlight?: boolean;
  settled?: boolean;
  resolve: (r: PublishResult) => void;
  reject: (e: Error) => void;
}

/** What the outbox needs from the client. */
export interface OutboxHost {
  /** Whether the connection is up (welcomed): sends go out only then. */
  live(): boolean;
  /** Sends a request on the current connection (rejects with a `ClientError`). */
  request<T>(frame: Record<string, unknown>, timeout: number): Promise<T>;
}

export interface OutboxOptions {
  /** Most publishes held at once. */
  offlineQueue: number;
  /** Milliseconds a publish keeps trying before it rejects. */
  publishTimeout: number;
  /** Milliseconds one attempt waits for its reply. */
  timeout: number;
}

/** QoS 1 publishes not yet stored, oldest first. */
export interface Outbox {
  /** Holds a publish until stored or expired; rejects at once when {@link OutboxOptions.offlineQueue} publishes are held. */
  publish(channel: string, data: unknown): Promise<PublishResult>;
  /** A new connection is up: everything held goes again, in order and paced; retries waiting for their backoff keep waiting. */
  connected(): void;
  /** The client stopped: every held publish rejects with `err`. */
  stop(err: Error): void;
}

export function outbox(host: OutboxHost, pacer: PublishPacer, o: OutboxOptions): Outbox {
  const held: QueuedPublish[] = [];
  /** Publishes due to be sent on this connection, oldest first; `pump()` sends them as tokens allow. */
  const sendQueue: QueuedPublish[] = [];
  let pumpTimer: ReturnType<typeof setTimeout> | undefined;
  const timedOut = (): ClientError => new ClientError(NO_ANSWER, 'QoS 1 publish timed out');

  /** Takes a publish out of the outbox and settles it once (a late ack after expiry is ignored). */
  const settle = (p: QueuedPublish, outcome: Error | PublishResult): void => {
    if (p.settled) return;
    p.settled = true;
    clearTimeout(p.expiry);
    clearTimeout(p.retry);
    const i = held.indexOf(p);
    if (i !== -1) held.splice(i, 1);
    if (outcome instanceof Error) p.reject(outcome);
    else p.resolve(outcome);
  };

  const enqueue = (p: QueuedPublish): void => {
    if (p.settled || p.inFlight || sendQueue.includes(p)) return;
    sendQueue.push(p);
    pump();
  };

  /** Sends queued publishes as fast as the server's announced rate allows, never faster. */
  const pump = (): void => {
    clearTimeout(pumpTimer);
    pumpTimer = undefined;
    for (let p = sendQueue[0]; p && host.live(); p = sendQueue[0]) {
      if (p.settled) {
        sendQueue.shift();
        continue;
      }
      if (!pacer.take()) {
        // Wake when the next token is there; one timer for the whole queue.
        pumpTimer = setTimeout(pump, pacer.wait());
        return;
      }
      sendQueue.shift();
      void send(p);
    }
  };

  const send = async (p: QueuedPublish): Promise<void> => {
    if (p.settled) return;
    const left = p.deadline - performance.now();
    if (left <= 0) return settle(p, timedOut());
    p.inFlight = true;
    try {
      settle(
        p,
        await host.request<PublishResult>(
          { op: 'pub', ch: p.channel, data: p.data, mid: p.mid },
          Math.min(left, o.timeout),
        ),
      );
    } catch (err) {
      p.inFlight = false;
      if (p.settled) return;
      if (isRefusal(err) && !RETRYABLE_PUBLISH_CODES.has(err.code)) return settle(p, err);
      if (isRefusal(err) || (err instanceof ClientError && err.code === NO_ANSWER && host.live())) {
        // Transient (not stored, node closing, rate exceeded, or no reply in time on a live
        // connection): retry with the same id after a growing, jittered delay, so a backlog
        // after an outage is spread out instead of hammering the server; the publish deadline
        // bounds it all. After a 106 the server's bucket is empty: so is ours.
        if (isRefusal(err) && err.code === 106) pacer.empty();
        clearTimeout(p.retry);
        p.retry = setTimeout(
          () => {
            p.retry = undefined;
            if (host.live()) enqueue(p);
          },
          backoffDelay(p.attempt++, RETRY_MIN_MS, RETRY_MAX_MS),
        );
      }
      // Otherwise the connection was lost: the next welcome sends it again (same mid, so no duplicate).
    }
  };

  return {
    publish(channel, data) {
      if (held.length >= o.offlineQueue)
        return Promise.reject(new ClientError(NO_ANSWER, `offline queue full (${o.offlineQueue} publishes waiting)`));
      return new Promise((resolve, reject) => {
        const p: QueuedPublish = {
          channel,
          data,
          mid: randomHex(12),
          deadline: performance.now() + o.publishTimeout,
          attempt: 0,
          resolve,
          reject,
        };
        p.expiry = setTimeout(() => settle(p, timedOut()), o.publishTimeout);
        held.push(p);
        if (host.live()) enqueue(p);
      });
    },
    connected() {
      sendQueue.length = 0;
      for (const p of held) {
        p.inFlight = false;
        if (!p.retry) sendQueue.push(p);
      }
      pump();
    },
    stop(err) {
      clearTimeout(pumpTimer);
      sendQueue.length = 0;
      for (const p of held.splice(0)) settle(p, err);
    },
  };
}
