// One node of the cluster example: a switchyard hub on the Redis engine behind node:http.
// Start two (or more) with different ports; nginx spreads clients over them, no sticky sessions.
//   PORT=3001 node examples/cluster/node.mjs & PORT=3002 node examples/cluster/node.mjs
import { createServer } from 'node:http';
import { Switchyard } from 'switchyardjs';
import { attach } from 'switchyardjs/http';
import { redisEngine } from 'switchyardjs/redis';

const port = Number(process.env.PORT ?? 3001);
const host = process.env.HOST ?? '127.0.0.1';
const name = process.env.NODE_NAME ?? `node-${port}`;

const hub = new Switchyard({
  engine: redisEngine({ url: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379', keyPrefix: 'cluster-example:' }),
  channels: [{ match: 'chat.*', clientPublish: true }],
  // What a reconnecting client can recover, on any node: the last 1,000 messages or 10 minutes.
  history: { size: 1_000, ttl: 600_000 },
});

const server = createServer(async (req, res) => {
  if (req.method === 'POST' && req.url === '/announce') {
    const result = await hub.publish('chat.lobby', { from: name, text: 'announcement' });
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ node: name, ...result }));
  } else if (req.url === '/healthz') {
    res.writeHead(200, { 'content-type': 'text/plain' }).end(`${name} ok, ${hub.connectionCount} connections\n`);
  } else {
    res.writeHead(404).end('not found');
  }
});
attach(hub, server, { path: '/realtime' });
server.listen(port, host, () => console.log(`${name} listening on http://${host}:${port} (ws path /realtime)`));

// Rolling restarts: stop taking connections, close clients with 1001 (they reconnect to
// another node and recover there), then exit.
for (const sig of ['SIGINT', 'SIGTERM']) {
  process.once(sig, async () => {
    await hub.close();
    server.close(() => process.exit(0));
  });
}
