/**
 * Cumulative QoS 1 acks, batched by how full the server's in-flight window is: below half of it an
 * ack waits up to {@link ACK_DELAY_MS} (a subscriber of a slow channel sends one ack a second, not
 * one per message), at half it goes at once, so a keeping-up client never fills the window.
 * Redelivery after a reconnect does not depend on acks: the SDK resubscribes from the last
 * message its handler finished.
 * @module
 */

import { isIntIn } from '../integers.js';

/** How long acks wait while less than half of the in-flight window is unacknowledged. */
export const ACK_DELAY_MS = 1000;

export interface AckBatcher {
  /** The server announced its in-flight window (`win` in `welcome`); an invalid value is ignored. */
  setWindow(win: unknown): void;
  /** Everything up to `offset` on `channel` was processed. */
  ack(channel: string, offset: number): void;
  /** Sends every due ack now. An ack that could not be sent is dropped: the server redelivers after a reconnect. */
  flush(): void;
  /** The subscription of `channel` ended: nothing more to ack there. */
  forget(channel: string): void;
  /** Cancels the pending batch (the client stopped). */
  stop(): void;
}

/** @param send sends one `ack` frame; false when it could not (not connected). */
export function ackBatcher(send: (channel: string, offset: number) => boolean): AckBatcher {
  const due = new Map<string, number>();
  /** Last offset acknowledged per channel. */
  const ackedUpTo = new Map<string, number>();
  let timer: ReturnType<typeof setTimeout> | undefined;
  /** The server's `limits.inflightWindow` (servers that omit it in `welcome`: 256). */
  let window = 256;
  const stop = (): void => {
    clearTimeout(timer);
    timer = undefined;
  };
  const flush = (): void => {
    stop();
    for (const [ch, off] of due) if (send(ch, off)) ackedUpTo.set(ch, off);
    due.clear();
  };
  return {
    setWindow(win) {
      if (isIntIn(win, 1)) window = win;
    },
    ack(channel, offset) {
      due.set(channel, offset);
      let last = ackedUpTo.get(channel);
      if (last === undefined) ackedUpTo.set(channel, (last = offset - 1));
      if (offset - last >= window / 2) return flush();
      timer ??= setTimeout(flush, ACK_DELAY_MS);
    },
    flush,
    forget(channel) {
      due.delete(channel);
      ackedUpTo.delete(channel);
    },
    stop,
  };
}
