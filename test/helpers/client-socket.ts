import type WebSocket from 'ws';
import type { Client } from '../../lib/client/index.js';

/**
 * The `ws` socket under a Node client's current connection, to cut or pause its TCP connection
 * like a network fault would (the WebSocket transport keeps it on the connection for this). Throws
 * when there is none, so a test that means to cut a connection cannot silently do nothing.
 */
export function clientSocket(client: Client): WebSocket & { _socket: import('node:net').Socket } {
  const socket = (client as unknown as { link: { current?: { socket?: unknown } } }).link.current?.socket;
  if (!socket) throw new Error(`client has no open WebSocket connection (state ${client.state})`);
  return socket as WebSocket & { _socket: import('node:net').Socket };
}
