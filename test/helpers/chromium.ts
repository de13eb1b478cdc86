// Headless Chromium for browser tests: whether it is installed (a missing binary fails the test
// when SWITCHYARD_REQUIRE_CHROMIUM=1, else the file is skipped), a launch closed in teardown, and
// a page server for the SDK's browser bundle.
import { existsSync, readFileSync } from 'node:fs';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { fileURLToPath } from 'node:url';
import type { Browser } from 'playwright-core';

export const CHROMIUM = '/usr/bin/chromium';
const BUNDLE = fileURLToPath(new URL('../../dist/browser/switchyard-client.js', import.meta.url));

/** True when Chromium is installed; otherwise throws under SWITCHYARD_REQUIRE_CHROMIUM=1, or plans the file as skipped. */
export function haveChromium(t: { plan(n: number, why: string): void }): boolean {
  if (existsSync(CHROMIUM)) return true;
  if (process.env.SWITCHYARD_REQUIRE_CHROMIUM === '1')
    throw new Error(`${CHROMIUM} is missing; install it with: apt-get install -y chromium`);
  t.plan(0, `skipped: ${CHROMIUM} not installed (apt-get install -y chromium)`);
  return false;
}

/** Launches headless Chromium and closes it in teardown. */
export async function launchChromium(t: { teardown(fn: () => unknown): void }): Promise<Browser> {
  const { chromium } = await import('playwright-core');
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking'],
  });
  t.teardown(() => browser.close());
  return browser;
}

/**
 * Makes `server` answer `/` with `html` and `/switchyard-client.js` with the built browser
 * bundle (`npm run build`); `extra` may answer other paths (return true when it did), the rest is 404.
 */
export function servePage(
  server: Server,
  html: string,
  extra?: (req: IncomingMessage, res: ServerResponse) => boolean,
): void {
  server.removeAllListeners('request');
  server.on('request', (req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (path === '/') res.setHeader('content-type', 'text/html').end(html);
    else if (path === '/switchyard-client.js')
      res.setHeader('content-type', 'text/javascript').end(readFileSync(BUNDLE));
    else if (!extra?.(req, res)) res.writeHead(404).end();
  });
}
