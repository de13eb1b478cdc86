/**
 * (Re)subscribing: sending a subscription's `sub` frame, keeping server-side subscriptions in
 * step with the server's list ([SSUB-3]), and answering the server's `refresh` request, which
 * also brings a new list.
 * @module
 */
import type { EventEmitter } from 'eventemitter3';
import { CLOSE } from '../close-codes.js';
import type { QoS, SubscribeResult } from '../protocol.js';
import { ClientError, isRefusal } from './errors.js';
import type { ClientEvents } from './events.js';
import type { ResolvedOptions } from './options.js';
import { runRefresh } from './refresh.js';
import { Subscription, type SubscriptionHost } from './subscription.js';
import type { TransportConnection } from './transport.js';

/** The parts of the client these need. */
export interface SubscriberHost extends SubscriptionHost, Pick<EventEmitter<ClientEvents>, 'emit'> {
  readonly o: ResolvedOptions;
  readonly state: string;
  readonly link: { readonly current: TransportConnection | undefined };
  refreshing: TransportConnection | undefined;
  refreshTimer: ReturnType<typeof setTimeout> | undefined;
  // biome-ignore lint/suspicious/noExplicitAny: subscriptions of every payload type share this map or host
  readonly subs: Map<string, Subscription<any>>;
  request<T>(frame: Record<string, unknown>, timeout?: number, onReply?: (res: T) => void): Promise<T>;
  shutdown(code: number, reason: string): void;
}

// biome-ignore lint/suspicious/noExplicitAny: subscriptions of every payload type share this map or host
export async function sendSubscribe(host: SubscriberHost, sub: Subscription<any>): Promise<void> {
  const since = sub.resumeFrom;
  const frame: Record<string, unknown> = { op: 'sub', ch: sub.channel };
  if (sub.qos === 1) frame.qos = 1;
  if (since) frame.since = since;
  if (sub.presenceEvents) frame.presence = true;
  if (sub.userPresenceEvents) frame.users = true;
  try {
    // The replay follows the reply immediately: the subscription must learn the result before it sees them.
    await host.request<SubscribeResult>(frame, undefined, (res) => {
      if (sub.active && host.subs.get(sub.channel) === sub) sub.subscribed(res, since !== undefined);
    });
  } catch (err) {
    if (!isRefusal(err)) return; // disconnected or timed out: the next welcome resubscribes
    host.subs.delete(sub.channel);
    sub.refused(err);
  }
}

/**
 * [SSUB-3] Makes the server-side subscriptions match the server's list: new channels become
 * subscriptions (announced with `serverSubscription`), withdrawn ones end with 121. `subscribeNow`
 * subscribes new ones at once (after a refresh); after `welcome` the caller resubscribes all.
 */
export function syncServerSubscriptions(host: SubscriberHost, list: unknown[], subscribeNow: boolean): void {
  const granted = new Map<string, QoS>();
  for (const x of list as Array<{ ch?: unknown; qos?: unknown }>)
    if (typeof x?.ch === 'string') granted.set(x.ch, x.qos === 1 ? 1 : 0);
  for (const sub of [...host.subs.values()]) {
    if (!sub.server || granted.has(sub.channel)) continue;
    host.subs.delete(sub.channel);
    sub.ended(new ClientError(121, `${sub.channel} is no longer granted by the server`));
  }
  for (const [ch, qos] of granted) {
    if (host.subs.has(ch)) continue;
    // biome-ignore lint/suspicious/noExplicitAny: subscriptions of every payload type share this map or host
    const sub: Subscription<any> = new Subscription(
      host,
      ch,
      (m) => void sub.emit('message', m),
      qos,
      undefined,
      false,
      false,
      true,
    );
    host.subs.set(ch, sub);
    host.emit('serverSubscription', sub);
    if (subscribeNow) void sendSubscribe(host, sub);
  }
}

/** Answers the server's `refresh` request once per connection (a second request while one runs is redundant). */
export function startRefresh(host: SubscriberHost): void {
  const conn = host.link.current;
  if (!conn || host.refreshing === conn) return;
  host.refreshing = conn;
  const reconnect = host.o.reconnect === false ? { minDelay: 500, maxDelay: 20_000 } : host.o.reconnect;
  void runRefresh(
    {
      provider: host.o.token,
      current: () => host.link.current === conn && host.state === 'connected',
      send: (token) => host.request({ op: 'refresh', token }),
      done: (res) => {
        const r = res as { exp?: unknown; subs?: unknown };
        syncServerSubscriptions(host, Array.isArray(r.subs) ? r.subs : [], true);
        host.emit('refreshed', typeof r.exp === 'number' ? { expiresIn: r.exp } : {});
      },
      failed: (err) => host.emit('tokenError', err),
      noToken: () => host.shutdown(CLOSE.NO_TOKEN, 'token provider returned null: no credentials'),
      minDelay: reconnect.minDelay,
      maxDelay: reconnect.maxDelay,
    },
    (ms) => new Promise((resolve) => (host.refreshTimer = setTimeout(resolve, ms))),
  ).finally(() => {
    if (host.refreshing === conn) host.refreshing = undefined;
  });
}
