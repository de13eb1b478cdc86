/**
 * Request correlation: each request frame gets a fresh `id`, waits for the `ok`/`err` reply with
 * that id or its timeout, and fails when the connection goes. Calls made while not connected wait
 * for the connection in a bounded queue ({@link waiting}).
 * @module
 */
import { ClientError, NO_ANSWER } from './errors.js';

interface Pending {
  resolve: (res: unknown) => void;
  /** Runs synchronously on the reply, before frames that follow it in the same read (a promise continuation would run after them). */
  onReply: ((res: unknown) => void) | undefined;
  reject: (err: Error) => void;
  timer: ReturnType<typeof setTimeout>;
}

/** Requests waiting for their reply on the current connection. */
export interface Requests {
  /** Sends `frame` with a new id; resolves with the `ok` result, rejects with the `err` code or `NO_ANSWER` (timeout, not connected). */
  request<T>(frame: Record<string, unknown>, timeout: number, onReply?: (res: T) => void): Promise<T>;
  /** Settles the request `id` with an `ok` result or an `err`; false when no such request is pending (e.g. it timed out). */
  reply(id: number, outcome: { res: unknown } | ClientError): boolean;
  /** Rejects every pending request (the connection closed). */
  failAll(err: Error): void;
}

/**
 * @param send sends a frame on the current connection; false when there is none (the request then rejects at once)
 * @param state the client's state, for the error message
 */
export function requests(send: (frame: object) => boolean, state: () => string): Requests {
  const pending = new Map<number, Pending>();
  let nextId = 1;
  const noAnswer = (msg: string): ClientError => new ClientError(NO_ANSWER, msg);
  return {
    request<T>(frame: Record<string, unknown>, timeout: number, onReply?: (res: T) => void): Promise<T> {
      return new Promise<T>((resolve, reject) => {
        const id = nextId++;
        const timer = setTimeout(() => {
          pending.delete(id);
          reject(noAnswer(`request timed out after ${timeout} ms`));
        }, timeout);
        pending.set(id, {
          resolve: resolve as (r: unknown) => void,
          reject,
          onReply: onReply as ((r: unknown) => void) | undefined,
          timer,
        });
        if (!send({ ...frame, id })) {
          clearTimeout(timer);
          pending.delete(id);
          reject(noAnswer(`not connected (state ${state()})`));
        }
      });
    },
    reply(id, outcome) {
      const p = pending.get(id);
      if (!p) return false;
      pending.delete(id);
      clearTimeout(p.timer);
      if (outcome instanceof ClientError) p.reject(outcome);
      else {
        p.onReply?.(outcome.res);
        p.resolve(outcome.res);
      }
      return true;
    },
    failAll(err) {
      for (const [id, p] of pending) {
        clearTimeout(p.timer);
        pending.delete(id);
        p.reject(err);
      }
    },
  };
}

/** Calls made before the connection is up (QoS 0 publishes, history and presence reads). */
export interface Waiting {
  /**
   * Runs `send` now when connected, else once the connection is up — so a call made right after
   * `connect()` or during a reconnect is not refused. Bounded: at most `limit` calls wait, each at
   * most `timeout` ms; rejects at once when the client is closed, and on {@link Waiting.fail}.
   */
  run<T>(send: () => Promise<T>): Promise<T>;
  /** The connection is up: every waiting call runs now, in order. */
  resume(): void;
  /** The client stopped: every waiting call rejects with `err`. */
  fail(err: Error): void;
}

export function waiting(limit: number, timeout: number, state: () => string): Waiting {
  const queue = new Set<(err?: Error) => void>();
  return {
    run<T>(send: () => Promise<T>): Promise<T> {
      if (state() === 'connected') return send();
      const full =
        state() === 'closed'
          ? 'client is closed'
          : queue.size >= limit
            ? `offline queue full (${limit} calls waiting)`
            : '';
      if (full) return Promise.reject(new ClientError(NO_ANSWER, full));
      return new Promise<T>((resolve, reject) => {
        const resume = (err?: Error): void => {
          clearTimeout(timer);
          queue.delete(resume);
          if (err) reject(err);
          else send().then(resolve, reject);
        };
        const timer = setTimeout(
          () => resume(new ClientError(NO_ANSWER, `not connected after ${timeout} ms (state ${state()})`)),
          timeout,
        );
        queue.add(resume);
      });
    },
    resume: () => [...queue].forEach((w) => w()),
    fail: (err) => [...queue].forEach((w) => w(err)),
  };
}
