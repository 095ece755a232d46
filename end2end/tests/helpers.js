// Shared helpers for Settle's browser tests.
//
// playwright-core drives Debian's Chromium (/usr/bin/chromium); it never downloads a browser.
// The server under test is started by end2end/run.sh (a fresh one, with fresh demo data, for
// every test file), which passes its address in SETTLE_BASE_URL.

import assert from 'node:assert/strict';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const here = path.dirname(fileURLToPath(import.meta.url));

/** Folder the screenshots go to: end2end/screenshots/ (git-ignored). */
export const screenshotDir = path.resolve(here, '..', 'screenshots');

/** Base URL of the running Settle server, without a trailing slash. */
export const baseUrl = (process.env.SETTLE_BASE_URL || 'http://127.0.0.1:3000').replace(/\/+$/, '');

/** Chromium binary: Debian's package unless CHROMIUM_PATH says otherwise. */
export const chromiumPath = process.env.CHROMIUM_PATH || '/usr/bin/chromium';

/** How long one step (a click, a navigation) may take. */
export const STEP_TIMEOUT_MS = 15_000;

/** Demo data loaded by the server in development mode. */
export const demoCustomer = Object.freeze({
  email: 'customer@settle.test',
  password: 'settle-customer',
  name: 'Thandi Mokoena',
});

/** The demo logins by role, with the page each lands on. */
export const LOGINS = Object.freeze({
  customer: { email: demoCustomer.email, password: demoCustomer.password, home: '/account' },
  admin: { email: 'admin@settle.test', password: 'settle-admin', home: '/admin' },
  operator: { email: 'operator@settle.test', password: 'settle-operator', home: '/operator' },
});

/** The demo policies: one paid through hosted checkout or invoice, one by card (seed 003). */
export const HOSTED_POLICY = 'DEMO/0001/MOTOR/WEB';
export const CARD_POLICY = 'DEMO/0002/SHORT/WEB';

/** An expiry three years ahead, as MMYY. */
export const EXPIRY = `12${String((new Date().getFullYear() + 3) % 100).padStart(2, '0')}`;

/** The widths every page is checked at: a desktop and a 390 px phone. */
export const WIDTHS = Object.freeze([
  { name: 'desktop', width: 1280, height: 900 },
  { name: 'phone', width: 390, height: 844 },
]);

/** A payment's status page. */
export const STATUS_PATH = /^\/account\/payments\/PAY-[0-9A-Z]+$/;

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

/**
 * A desktop-sized context whose problems are collected in `problems`: console errors,
 * uncaught script errors, and content-security-policy violations in the page or its frames.
 * `allow(text)` returns true for a console error the test expects (a 403 page's own status).
 */
export async function openContext(browser, { javaScript = true } = {}) {
  const context = await browser.newContext({
    viewport: { width: WIDTHS[0].width, height: WIDTHS[0].height },
    javaScriptEnabled: javaScript,
  });
  context.setDefaultTimeout(STEP_TIMEOUT_MS);
  context.setDefaultNavigationTimeout(STEP_TIMEOUT_MS);
  if (javaScript) {
    await context.addInitScript(() => {
      document.addEventListener('securitypolicyviolation', (e) => {
        console.error(`CSP violation: ${e.violatedDirective} blocked ${e.blockedURI || 'inline'} in ${location.pathname}`);
      });
    });
  }
  const page = await context.newPage();
  const problems = [];
  page.on('console', (msg) => {
    if (msg.type() === 'error') problems.push({ text: msg.text(), url: msg.location()?.url || page.url() });
  });
  page.on('pageerror', (err) => problems.push({ text: `uncaught: ${err.message}`, url: page.url() }));
  return { context, page, problems };
}

/** Fails if Chromium reported a problem, except console errors `expected` matches. */
export function assertNoProblems(problems, what, expected = () => false) {
  const unexpected = problems.filter((p) => !expected(p.text));
  assert.deepEqual(unexpected, [], `console errors ${what}`);
}

/** Log in through /login and wait for the role's home page. */
export async function logIn(page, who = 'customer') {
  const login = LOGINS[who];
  await page.goto(url('/login'));
  await page.locator('input[name="email"]').fill(login.email);
  await page.locator('input[name="password"]').fill(login.password);
  await page.getByRole('button', { name: 'Log in' }).click();
  await page.waitForURL((u) => u.pathname === login.home);
}

/**
 * What sticks out of the viewport on the current page: the document's scroll width, and every
 * element whose right edge is beyond the viewport and that no scrolling box of its own holds
 * (a table that scrolls inside its card is fine; the card must fit).
 */
async function overflow(page) {
  return page.evaluate(() => {
    const width = window.innerWidth;
    const clippedByAncestor = (el) => {
      for (let p = el.parentElement; p && p !== document.body; p = p.parentElement) {
        const ox = getComputedStyle(p).overflowX;
        if (ox === 'auto' || ox === 'scroll' || ox === 'hidden' || ox === 'clip') return true;
      }
      return false;
    };
    const offenders = [];
    for (const el of document.querySelectorAll('body *')) {
      const r = el.getBoundingClientRect();
      if (r.width === 0 || r.height === 0) continue;
      if (r.right > width + 0.5 && !clippedByAncestor(el)) {
        const name = `${el.tagName.toLowerCase()}${el.id ? `#${el.id}` : ''}${el.className && typeof el.className === 'string' ? `.${el.className.trim().replace(/\s+/g, '.')}` : ''}`;
        offenders.push(`${name} (right edge ${Math.round(r.right)} px)`);
      }
    }
    return { width, scrollWidth: document.documentElement.scrollWidth, offenders: offenders.slice(0, 10) };
  });
}

/** Fails if the current page is wider than `width` or an element reaches beyond it. */
export async function assertFits(page, name, width) {
  const got = await overflow(page);
  assert.equal(got.width, width, `${name}: the viewport is ${width} px wide`);
  assert.ok(
    got.scrollWidth <= got.width,
    `${name}: the page is ${got.scrollWidth} px wide in a ${got.width} px viewport`,
  );
  assert.deepEqual(got.offenders, [], `${name}: elements beyond the viewport`);
}

/**
 * Checks the current page at desktop width and at 390 px: the page is exactly as wide as the
 * viewport (no sideways scrolling) and no element reaches beyond it. Saves a screenshot at each
 * width (`<name>-desktop.png`, `<name>-phone.png`) and goes back to desktop width.
 */
export async function checkWidths(page, name) {
  for (const w of WIDTHS) {
    await page.setViewportSize({ width: w.width, height: w.height });
    // Let layout settle after the resize (no requestAnimationFrame: with JavaScript off it
    // never fires).
    await page.waitForTimeout(150);
    await screenshot(page, `${name}-${w.name}`);
    await assertFits(page, `${name} at ${w.name} width`, w.width);
  }
  await page.setViewportSize({ width: WIDTHS[0].width, height: WIDTHS[0].height });
}

/** The text of the page's <main>. */
export async function mainText(page) {
  return page.locator('main').innerText();
}

/** The `content` of the page's meta refresh, or null. */
export async function metaRefresh(page) {
  const meta = page.locator('meta[http-equiv="refresh"]');
  return (await meta.count()) ? meta.getAttribute('content') : null;
}

/** Sets a sandbox provider's faults (`/sandbox/faults/{provider}`); `{}` clears them. */
export async function setFaults(provider, faults) {
  const response = await fetch(url(`/sandbox/faults/${provider}`), {
    method: 'PUT',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(faults),
  });
  assert.equal(response.status, 200, `faults for ${provider}`);
}

/** Fill the card form (the billing address stays the policy's). */
export async function fillCard(page, number, { holder = 'J SMITH', expiry = EXPIRY, cvv = '123' } = {}) {
  await page.getByLabel('Name on the card').fill(holder);
  await page.getByLabel('Card number').fill(number);
  await page.getByLabel('Expiry date').fill(expiry);
  await page.getByLabel('Security code').fill(cvv);
}

/** From the account page's "Pay now" through the checkout to the card page. */
export async function openCardPage(page) {
  await page.goto(url('/account'));
  await page.locator('tr', { hasText: CARD_POLICY }).getByRole('link', { name: 'Pay now' }).click();
  await page.waitForURL((u) => u.pathname === '/account/checkout');
  assert.match(await mainText(page), /GBP 51\.34/);
  // The checkout's button says what it does: the card form has the Pay button.
  const next = page.getByRole('button', { name: 'Continue to card details' });
  await next.waitFor();
  await next.click();
  await page.waitForURL((u) => u.pathname === '/account/checkout/card');
  assert.equal(new URL(page.url()).searchParams.get('policy'), CARD_POLICY);
  assert.match(await page.locator('h1').innerText(), /pay by card/i);
}

/** The card page's Pay button. */
export function payButton(page) {
  return page.getByRole('button', { name: 'Pay GBP 51.34' });
}
