/**
 * The client's link to the server: one transport connection at a time, opened with a fresh token,
 * to the endpoint `Endpoints` chooses; reconnects with full-jitter backoff after a close that
 * allows it; a watchdog for a server that fell silent; and every incoming frame decoded and
 * validated before the client sees it.
 * @module
 */
import type { EventEmitter } from 'eventemitter3';
import { CLOSE, shouldReconnect } from '../close-codes.js';
import type { ServerFrame } from '../protocol.js';
import { backoffDelay } from './backoff.js';
import { decodeFrame } from './decode.js';
import type { Endpoints } from './endpoints.js';
import { BAD_SERVER_FRAME, ClientError, CONNECTION_LOST } from './errors.js';
import type { ClientEvents, ClientState } from './events.js';
import type { ResolvedOptions } from './options.js';
import { fetchToken } from './refresh.js';
import type { TransportClose, TransportConnection } from './transport.js';
import { watchdog } from './watchdog.js';

/** What the link needs from the client. */
export interface LinkHost extends Pick<EventEmitter<ClientEvents>, 'emit'> {
  readonly o: ResolvedOptions;
  readonly state: ClientState;
  setState(s: ClientState): void;
  /** Stops the client for good, reporting `code` and `reason` in `closed`. */
  stop(code: number, reason: string): void;
  /** The connection is gone: requests pending on it fail with `err`. */
  lost(err: ClientError): void;
  /** A decoded, valid frame from the server. */
  frame(f: ServerFrame): void;
}

export interface Link {
  readonly endpoints: Endpoints;
  /** The transport connection of the current attempt, until it closes. */
  readonly current: TransportConnection | undefined;
  /** Whether the server's `welcome` arrived on the latest connection (until the next attempt opens). */
  readonly welcomed: boolean;
  /** Opens a connection to the current endpoint (the client's first attempt). */
  open(): Promise<void>;
  /** The server's `welcome` arrived: sends are allowed, the backoff starts over, the watchdog watches with its heartbeat. */
  welcome(heartbeat: number): void;
  /** Sends a frame on the welcomed connection; false when there is none. */
  send(frame: object): boolean;
  /** Stops reconnecting and watching (the client stopped). */
  stop(): void;
  /** Closes the current connection, if any, with `code`; its close is not reported. */
  close(code: number, reason: string): void;
}

export function link(host: LinkHost): Link {
  const endpoints = host.o.endpoints;
  let conn: TransportConnection | undefined;
  let welcomed = false;
  let attempt = 0;
  let reconnectTimer: ReturnType<typeof setTimeout> | undefined;
  const dog = watchdog(() => {
    // The server stopped talking: treat the connection as dead and reconnect.
    if (!conn) return;
    conn.close(CLOSE.HEARTBEAT_TIMEOUT, 'heartbeat timeout');
    onClose(conn, { code: CLOSE.HEARTBEAT_TIMEOUT, reason: 'no heartbeat from server' });
  });

  const open = async (): Promise<void> => {
    await endpoints.choose?.();
    const t = await fetchToken(host.o.token);
    if (host.state === 'closed') return;
    if ('none' in t) return host.stop(CLOSE.NO_TOKEN, 'token provider returned null: no credentials');
    if ('failed' in t) {
      // Connecting without the token would only be refused: retry the provider with backoff.
      host.emit('tokenError', t.failed);
      if (host.o.reconnect === false) return host.stop(CLOSE.NO_TOKEN, 'token provider failed and reconnect is off');
      return scheduleReconnect();
    }
    let c: TransportConnection | undefined;
    try {
      c = host.o.transport.open(endpoints.current, t.token, {
        frame: (text) => c && c === conn && onFrame(c, text),
        close: (info) => c && onClose(c, info),
      });
    } catch (err) {
      return host.stop(CONNECTION_LOST, (err as Error).message);
    }
    conn = c;
    welcomed = false;
  };

  const onFrame = (c: TransportConnection, text: string): void => {
    dog.touch();
    let f: ServerFrame;
    try {
      f = decodeFrame(text);
    } catch (err) {
      // A server (or something in between) that sends what the protocol does not allow: report it,
      // and start over on a fresh connection (with backoff) rather than act on a guess.
      host.emit('error', err as ClientError);
      c.close(BAD_SERVER_FRAME, 'malformed server frame');
      return onClose(c, { code: BAD_SERVER_FRAME, reason: 'malformed server frame' }, true);
    }
    host.frame(f);
  };

  /** `retry`: reconnect even after a code that is terminal when the server sends it (the client closed, not the server). */
  const onClose = (c: TransportConnection, info: TransportClose, retry = false): void => {
    if (conn !== c) return;
    conn = undefined;
    dog.stop();
    host.lost(new ClientError(CONNECTION_LOST, 'connection closed before the reply'));
    if (info.refused) return host.stop(CLOSE.KICKED, `upgrade refused with HTTP ${info.refused.status}`);
    const again = host.state !== 'closed' && host.o.reconnect !== false && (retry || shouldReconnect(info.code));
    host.emit('disconnected', { code: info.code, reason: info.reason, willReconnect: again });
    if (!again) return host.stop(info.code, info.reason);
    scheduleReconnect();
  };

  const scheduleReconnect = (): void => {
    if (host.state === 'closed' || host.o.reconnect === false) return;
    host.setState('reconnecting');
    endpoints.next();
    reconnectTimer = setTimeout(
      () => void open(),
      backoffDelay(attempt++, host.o.reconnect.minDelay, host.o.reconnect.maxDelay),
    );
  };

  return {
    endpoints,
    get current() {
      return conn;
    },
    get welcomed() {
      return welcomed;
    },
    open,
    welcome(heartbeat) {
      welcomed = true;
      attempt = 0;
      dog.arm(heartbeat);
    },
    send: (frame) => !!conn && welcomed && conn.send(JSON.stringify(frame)),
    stop() {
      clearTimeout(reconnectTimer);
      dog.stop();
    },
    close(code, reason) {
      const c = conn;
      conn = undefined;
      c?.close(code, reason);
    },
  };
}
