// The delay proxy's own process (see delay-proxy.ts): a TCP proxy on 127.0.0.1 to the port in
// argv[2], adding argv[3] ms each way. It runs apart from the test so that a test process busy
// compiling or starting hubs never stalls the link (a stalled link to a Redis primary makes
// its sentinels fail it over). Controlled over IPC: {op:'delay',ms}, {op:'pause',only},
// {op:'resume'}; each is answered with {ok:id}. The port it listens on is sent first: {port}.
import { createServer, connect } from 'node:net';

const target = Number(process.argv[2]);
let delay = Number(process.argv[3]);
let paused;
const held = [];
const sockets = new Set();

function forward(from, to, link, fromClient) {
  from.on('data', (chunk) => {
    if (fromClient && link.hello.length < 4096) link.hello += chunk.toString('latin1');
    const send = () => {
      if (!to.destroyed) to.write(chunk);
    };
    const later = () => (delay > 0 ? setTimeout(send, delay) : send());
    if (paused?.test(link.hello)) held.push(later);
    else later();
  });
  // The end follows the last data, delayed like it.
  from.on('end', () => setTimeout(() => to.end(), delay));
  from.on('error', () => to.destroy());
  from.on('close', () => setTimeout(() => to.destroy(), delay));
}

const server = createServer((client) => {
  const upstream = connect(target, '127.0.0.1');
  for (const s of [client, upstream]) {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.setNoDelay(true);
  }
  const link = { hello: '' };
  forward(client, upstream, link, true);
  forward(upstream, client, link, false);
});

server.listen(0, '127.0.0.1', () => process.send({ port: server.address().port }));
process.on('message', (m) => {
  if (m.op === 'delay') delay = m.ms;
  else if (m.op === 'pause') paused = new RegExp(m.only, 'i');
  else if (m.op === 'resume') {
    paused = undefined;
    for (const f of held.splice(0)) f();
  }
  process.send({ ok: m.id });
});
// The test process is gone: so is its proxy.
process.on('disconnect', () => process.exit(0));
