/**
 * Routes each decoded server→client frame to the part of the client it is for: replies to their
 * request, messages and subscription events to their subscription, the rest to the client.
 * @module
 */
import type { ServerFrame, WelcomeFrame } from '../protocol.js';
import type { AckBatcher } from './ack-batcher.js';
import { ClientError } from './errors.js';
import type { Requests } from './requests.js';
import { startRefresh, type SubscriberHost } from './server-subscriptions.js';

/** What dispatching needs from the client. */
export interface DispatchHost extends SubscriberHost {
  readonly requests: Requests;
  readonly acks: AckBatcher;
  sendRaw(frame: object): boolean;
  onWelcome(f: WelcomeFrame): void;
}

export function dispatch(f: ServerFrame, host: DispatchHost): void {
  switch (f.op) {
    case 'msg': {
      // Each frame is for exactly one subscription: the pattern it names, else the exact channel.
      const target = host.subs.get(f.sub ?? f.ch);
      if (target && target.pattern === (f.sub !== undefined))
        target.deliver({ channel: f.ch, data: f.data, offset: f.off, epoch: f.ep });
      return;
    }
    case 'ok':
      host.requests.reply(f.id, { res: f.res ?? {} });
      return;
    case 'err': {
      // With an id it answers a request; without one (or for a request that timed out) it is the connection's.
      const err = new ClientError(f.code, f.msg);
      if (f.id === undefined || !host.requests.reply(f.id, err)) host.emit('error', err);
      return;
    }
    case 'ping':
      host.sendRaw({ op: 'pong' });
      return;
    case 'drop':
      return host.subs.get(f.ch)?.dropped(f.n);
    case 'gap':
      return host.subs.get(f.ch)?.gap(f.position, f.reason === 'reset' ? 'reset' : 'trimmed');
    case 'join':
    case 'leave':
      return host.subs.get(f.ch)?.presenceEvent(f.op, f.m);
    case 'ujoin':
    case 'uleave':
      return host.subs.get(f.ch)?.userPresenceEvent(f.op, f.u);
    case 'refresh':
      return startRefresh(host);
    case 'end': {
      // [END-1] the server ended this subscription (121 revoked, 122 hub.unsubscribe).
      const sub = host.subs.get(f.ch);
      if (!sub) return;
      host.subs.delete(f.ch);
      host.acks.forget(f.ch);
      return sub.ended(new ClientError(f.code, f.msg));
    }
    case 'welcome':
      return host.onWelcome(f);
  }
}
