// Every page, at desktop width and at 390 px (a phone, with a phone's viewport handling), with
// JavaScript on: no console error, no content-security-policy violation, no uncaught script
// error, in the page or its frames; and nothing wider than the screen.
//
// Runs on its own fresh demo world (run.sh starts a server per file): it takes the short-term
// policy's card payment to the 3-D Secure challenge, looks at every page while it waits, then
// fails the bank's check.
//
// Pages: /login, a 404 page, /account, /account/checkout, /account/checkout/card, the challenge
// page (with the bank's page in its frame), the frame and completion pages, the payment status
// page (pending and failed), a 404 payment, /admin, /operator, and the 403 page.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  CARD_POLICY,
  EXPIRY,
  HOSTED_POLICY,
  LOGINS,
  STEP_TIMEOUT_MS,
  assertFits,
  launchBrowser,
  screenshot,
  url,
} from './helpers.js';

const TEST_TIMEOUT_MS = 180_000;
const CHALLENGE_CARD = '4000 0000 0000 3220';

const VIEWPORTS = [
  { name: 'desktop', options: { viewport: { width: 1280, height: 900 } } },
  {
    name: 'phone',
    options: { viewport: { width: 390, height: 844 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true },
  },
];

/**
 * A context whose problems are collected: console errors, uncaught errors, and CSP violations
 * (reported by the browser in every frame, recorded by an init script).
 */
async function openContext(browser, viewport) {
  const context = await browser.newContext(viewport.options);
  context.setDefaultTimeout(STEP_TIMEOUT_MS);
  context.setDefaultNavigationTimeout(STEP_TIMEOUT_MS);
  await context.addInitScript(() => {
    document.addEventListener('securitypolicyviolation', (e) => {
      console.error(`CSP violation: ${e.violatedDirective} blocked ${e.blockedURI || 'inline'} in ${location.pathname}`);
    });
  });
  const page = await context.newPage();
  const problems = [];
  page.on('console', (msg) => {
    if (msg.type() === 'error') problems.push({ text: msg.text(), url: msg.location()?.url || page.url() });
  });
  page.on('pageerror', (err) => problems.push({ text: `uncaught: ${err.message}`, url: page.url() }));
  return { context, page, problems };
}

async function logIn(page, who) {
  const login = LOGINS[who];
  await page.goto(url('/login'));
  await page.locator('input[name="email"]').fill(login.email);
  await page.locator('input[name="password"]').fill(login.password);
  await page.getByRole('button', { name: 'Log in' }).click();
  await page.waitForURL((u) => u.pathname === login.home);
}

/**
 * Opens `path`, waits until it and its frames have loaded, and fails on any problem seen
 * meanwhile. `expectStatus` is the status the page answers with; a browser logs "Failed to load
 * resource" for a 4xx document, which is then expected and not a problem.
 */
async function visit(ctx, viewport, path, { expectStatus = 200, ready } = {}) {
  const { page, problems } = ctx;
  problems.length = 0;
  const response = await page.goto(url(path), { waitUntil: 'load' });
  assert.equal(response?.status(), expectStatus, `${path} answers ${expectStatus}`);
  if (ready) await ready(page);
  // Give late scripts and frames a moment to report.
  await page.waitForLoadState('networkidle').catch(() => {});
  const unexpected = problems.filter(
    (p) => !(expectStatus >= 400 && p.text.includes(`status of ${expectStatus}`)),
  );
  const name = `console-${viewport.name}-${path.replace(/[^a-z0-9]+/gi, '-').replace(/^-|-$/g, '') || 'root'}`;
  await screenshot(page, name);
  assert.deepEqual(unexpected, [], `console errors on ${path} at ${viewport.name} width`);
  await assertFits(page, `${path} at ${viewport.name} width`, viewport.options.viewport.width);
}

describe('every page without console errors', () => {
  let browser;

  before(async () => {
    browser = await launchBrowser();
  });

  after(async () => {
    await browser?.close();
  });

  test('public, customer, admin and operator pages at desktop and phone widths', { timeout: TEST_TIMEOUT_MS }, async () => {
    // Set up the challenge once (desktop), then look at it from both widths while it waits.
    const setup = await openContext(browser, VIEWPORTS[0]);
    let challengePath;
    try {
      await logIn(setup.page, 'customer');
      await setup.page.goto(url(`/account/checkout/card?policy=${CARD_POLICY}`));
      await setup.page.getByLabel('Name on the card').fill('J SMITH');
      await setup.page.getByLabel('Card number').fill(CHALLENGE_CARD);
      await setup.page.getByLabel('Expiry date').fill(EXPIRY);
      await setup.page.getByLabel('Security code').fill('123');
      await setup.page.getByRole('button', { name: 'Pay GBP 51.34' }).click();
      await setup.page.waitForURL((u) => /^\/account\/payments\/PAY-[0-9A-Z]+\/challenge$/.test(u.pathname));
      challengePath = new URL(setup.page.url()).pathname;
    } catch (err) {
      await screenshot(setup.page, 'console-setup-FAILED').catch(() => {});
      await setup.context.close();
      throw err;
    }
    const statusPath = challengePath.replace(/\/challenge$/, '');
    const bankPageLoaded = async (page) => {
      // With script, /3ds.js submits the frame's form: the bank's page appears by itself.
      const frame = page.frameLocator('iframe[title="Your bank\'s security check"]');
      await frame.getByRole('button', { name: 'Authenticate', exact: true }).waitFor();
    };

    try {
      for (const viewport of VIEWPORTS) {
        const anonymous = await openContext(browser, viewport);
        try {
          await visit(anonymous, viewport, '/login');
          await visit(anonymous, viewport, '/no-such-page', { expectStatus: 404 });
        } finally {
          await anonymous.context.close();
        }

        const customer = await openContext(browser, viewport);
        try {
          await logIn(customer.page, 'customer');
          await visit(customer, viewport, '/account');
          await visit(customer, viewport, `/account/checkout?policy=${HOSTED_POLICY}`);
          await visit(customer, viewport, `/account/checkout/card?policy=${CARD_POLICY}`);
          await visit(customer, viewport, challengePath, { ready: bankPageLoaded });
          await visit(customer, viewport, `${challengePath}/frame`, { ready: (p) => p.waitForURL((u) => u.pathname.startsWith('/sandbox/')) });
          await visit(customer, viewport, statusPath);
          await visit(customer, viewport, '/account/payments/PAY-NOSUCHPAYMENT', { expectStatus: 404 });
          await visit(customer, viewport, '/admin', { expectStatus: 403 });
        } finally {
          await customer.context.close();
        }

        for (const who of ['admin', 'operator']) {
          const staff = await openContext(browser, viewport);
          try {
            await logIn(staff.page, who);
            await visit(staff, viewport, LOGINS[who].home);
          } finally {
            await staff.context.close();
          }
        }
      }

      // End the challenge as card_3ds.test.js does first (the bank's check fails), then look at
      // the failed payment's status page from both widths.
      const { page } = setup;
      const frame = page.frameLocator('iframe[title="Your bank\'s security check"]');
      await frame.getByRole('button', { name: 'Fail authentication', exact: true }).click();
      await frame.getByRole('button', { name: 'Continue', exact: true }).click();
      await page.waitForURL((u) => u.pathname === statusPath);
      assert.deepEqual(setup.problems, [], 'console errors during the challenge');
      for (const viewport of VIEWPORTS) {
        const customer = await openContext(browser, viewport);
        try {
          await logIn(customer.page, 'customer');
          await visit(customer, viewport, statusPath, {
            ready: (p) => p.locator('.status-banner.failed').waitFor(),
          });
          await visit(customer, viewport, `${challengePath}/complete`);
        } finally {
          await customer.context.close();
        }
      }
    } catch (err) {
      await screenshot(setup.page, 'console-FAILED').catch(() => {});
      throw err;
    } finally {
      await setup.context.close();
    }
  });
});
