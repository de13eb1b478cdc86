// One node for bench/cluster.ts: a hub on the engine named by ENGINE (memory | redis) behind
// node:http on 127.0.0.1:0; reports its port over IPC and exits when the parent goes away.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Switchyard } from '../lib/hub.js';
import { attach } from '../adapters/http.js';
import { redisEngine } from '../adapters/redis/index.js';

const engine =
  process.env.ENGINE === 'redis'
    ? redisEngine({ url: process.env.REDIS_URL, keyPrefix: process.env.KEY_PREFIX })
    : undefined;
const hub = new Switchyard({
  engine,
  // History large enough that a subscriber that starts behind (it joins as publishing starts)
  // catches up from the store instead of being told it missed messages.
  channels: [{ match: 'bench.>', clientPublish: true, history: { size: 10_000, ttl: 300_000 } }],
  limits: { publishesPerSecond: 1_000_000, queueHighWaterBytes: 64 * 1024 * 1024, maxQueuedBytes: 128 * 1024 * 1024 },
});
const server = createServer((_req, res) => res.writeHead(404).end());
attach(hub, server, { path: '/realtime' });
server.listen(0, '127.0.0.1', () => process.send!({ port: (server.address() as AddressInfo).port }));
process.on('disconnect', () => {
  void hub.close().finally(() => process.exit(0));
});
