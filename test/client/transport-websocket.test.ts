import t from 'tap';
import { REFUSAL_CLOSE_PROTOCOL, SUBPROTOCOL, TOKEN_PROTOCOL_PREFIX } from '../../lib/protocol.js';
import type { TransportClose } from '../../lib/client/transport.js';
import { refusedStatus, webSocketTransport, type WebSocketLike } from '../../lib/client/transport-websocket.js';

/** A WebSocket double that records how it was built and what it was asked to do. */
class FakeSocket implements WebSocketLike {
  static last: FakeSocket | undefined;
  readyState = 0;
  onopen: ((ev: unknown) => void) | null = null;
  onmessage: ((ev: { data: unknown }) => void) | null = null;
  onclose: ((ev: { code: number; reason: string }) => void) | null = null;
  onerror: ((ev: unknown) => void) | null = null;
  sent: string[] = [];
  closedWith: [number | undefined, string | undefined] | undefined;
  constructor(
    readonly url: string,
    readonly protocols: string[],
  ) {
    FakeSocket.last = this;
  }
  send(data: string): void {
    this.sent.push(data);
  }
  close(code?: number, reason?: string): void {
    this.closedWith = [code, reason];
  }
}

function open(canReadStatus: boolean, token?: string) {
  const frames: string[] = [];
  const closes: TransportClose[] = [];
  let opened = 0;
  const conn = webSocketTransport(FakeSocket, canReadStatus).open('ws://x/rt', token, {
    open: () => opened++,
    frame: (f) => frames.push(f),
    close: (c) => closes.push(c),
    error: () => {},
  });
  return { conn, ws: FakeSocket.last!, frames, closes, opened: () => opened };
}

t.test('the token travels base64url-encoded in the subprotocol header, never in the URL', async (t) => {
  const { ws } = open(true, 'tök+/=');
  t.equal(ws.url, 'ws://x/rt');
  t.same(ws.protocols, [SUBPROTOCOL, TOKEN_PROTOCOL_PREFIX + Buffer.from('tök+/=').toString('base64url')]);
  t.same(open(true).ws.protocols, [SUBPROTOCOL], 'no token: only the protocol');
});

t.test(
  "only a WebSocket that hides HTTP statuses (a browser's) asks the server to close with a code instead",
  async (t) => {
    t.same(open(false).ws.protocols, [SUBPROTOCOL, REFUSAL_CLOSE_PROTOCOL]);
    t.notOk(open(true).ws.protocols.includes(REFUSAL_CLOSE_PROTOCOL));
  },
);

t.test('send returns false and sends nothing until the socket is open', async (t) => {
  const { conn, ws, opened } = open(true);
  t.equal(conn.send('{"op":"pong"}'), false);
  ws.readyState = 1;
  ws.onopen?.({});
  t.equal(opened(), 1);
  t.equal(conn.send('{"op":"pong"}'), true);
  t.same(ws.sent, ['{"op":"pong"}']);
  conn.close(1000, 'bye');
  t.same(ws.closedWith, [1000, 'bye']);
});

t.test('text frames are passed on as text', async (t) => {
  const { ws, frames } = open(true);
  ws.onmessage?.({ data: '{"op":"ping"}' });
  ws.onmessage?.({ data: Buffer.from('{"op":"ping"}') });
  t.same(frames, ['{"op":"ping"}', '{"op":"ping"}']);
});

t.test(
  'a refused upgrade (400, 401, 403 reported by ws) closes with a structured refusal; other statuses do not',
  async (t) => {
    for (const status of [400, 401, 403]) {
      const { ws, closes } = open(true);
      ws.onerror?.({ message: `Unexpected server response: ${status}` });
      ws.onclose?.({ code: 1006, reason: '' });
      t.same(closes, [{ code: 1006, reason: '', refused: { status } }], `${status}`);
    }
    for (const message of [
      'Unexpected server response: 500',
      'Unexpected server response: 503',
      'connect ECONNREFUSED',
    ]) {
      const { ws, closes } = open(true);
      ws.onerror?.({ message });
      ws.onclose?.({ code: 1006, reason: '' });
      t.equal(closes[0]?.refused, undefined, message);
    }
    t.equal(
      refusedStatus({ error: new Error('Unexpected server response: 403') }),
      403,
      'the error may also come wrapped',
    );
  },
);

t.test('a WebSocket that cannot even be constructed throws a message saying so', async (t) => {
  const Throwing = class {
    constructor() {
      throw new SyntaxError('bad url');
    }
  } as unknown as typeof FakeSocket;
  t.throws(() => webSocketTransport(Throwing, true).open('ws://x', undefined, { frame() {}, close() {} }), {
    message: 'cannot open WebSocket: bad url',
  });
});
