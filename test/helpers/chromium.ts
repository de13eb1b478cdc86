// Headless Chromium for browser tests: whether it is installed (a missing binary fails the test
// when SWITCHYARD_REQUIRE_CHROMIUM=1, else the file is skipped), and a launch closed in teardown.
import { existsSync } from 'node:fs';
import type { Browser } from 'playwright-core';

export const CHROMIUM = '/usr/bin/chromium';

/** True when Chromium is installed; otherwise throws under SWITCHYARD_REQUIRE_CHROMIUM=1, or plans the file as skipped. */
export function haveChromium(t: { plan(n: number, why: string): void }): boolean {
  if (existsSync(CHROMIUM)) return true;
  if (process.env.SWITCHYARD_REQUIRE_CHROMIUM === '1') throw new Error(`${CHROMIUM} is missing; install it with: apt-get install -y chromium`);
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
