// Shared helpers for Settle's browser tests.
//
// playwright-core drives Debian's Chromium (/usr/bin/chromium); it never downloads a browser.
// The server under test is started by end2end/run.sh, which passes its address in SETTLE_BASE_URL.

import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const here = path.dirname(fileURLToPath(import.meta.url));

/** Folder the screenshots go to: end2end/screenshots/. */
export const screenshotDir = path.resolve(here, '..', 'screenshots');

/** Base URL of the running Settle server, without a trailing slash. */
export const baseUrl = (process.env.SETTLE_BASE_URL || 'http://127.0.0.1:3000').replace(/\/+$/, '');

/** Chromium binary: Debian's package unless CHROMIUM_PATH says otherwise. */
export const chromiumPath = process.env.CHROMIUM_PATH || '/usr/bin/chromium';

/** Demo data loaded by the server in development mode. */
export const demoCustomer = Object.freeze({
  email: 'customer@settle.test',
  password: 'settle-customer',
  name: 'Thandi Mokoena',
});

/** Launch headless Debian Chromium. Close it with `await browser.close()`. */
export async function launchBrowser() {
  return chromium.launch({
    executablePath: chromiumPath,
    headless: true,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--no-first-run',
    ],
    timeout: 60_000,
  });
}

/** An absolute URL on the server under test, e.g. url('/login'). */
export function url(pathname) {
  return new URL(pathname, `${baseUrl}/`).toString();
}

/** Save a full-page screenshot to end2end/screenshots/<name>.png and return its path. */
export async function screenshot(page, name) {
  await mkdir(screenshotDir, { recursive: true });
  const file = path.join(screenshotDir, `${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  return file;
}
