// The demo customer pays the motor policy through a hosted checkout (Payfort, sandbox) and sees
// the policy active on Settle's status page.
//
// Page contract (server side):
//   /account                      a "Pay now" link in the row of each policy with a premium due
//   /account/checkout?policy=…    what is bought, the premium (excl., tax, total), one radio button
//                                 per gateway (label = gateway name), a "Pay …" submit button
//   Pay (hosted checkout)      -> the gateway's page (sandbox: /sandbox/hosted-checkout/pay/{id},
//                                 buttons Pay / Decline / Cancel)
//   gateway's Pay              -> /api/v3/payment/process/?token=… -> /account/payments/{reference}
//   /account/payments/{ref}       `.status-banner.done` "Your policy is ready", the policy number,
//                                 links to the tax invoice and receipt PDFs

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { demoCustomer, launchBrowser, screenshot, url } from './helpers.js';

const TEST_TIMEOUT_MS = 90_000;
const STEP_TIMEOUT_MS = 15_000;
const POLICY = 'DEMO/0001/MOTOR/WEB';

/** A fresh context + page; uncaught page errors are collected in `errors`. */
async function openPage(browser, contextOptions = {}) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, ...contextOptions });
  context.setDefaultTimeout(STEP_TIMEOUT_MS);
  context.setDefaultNavigationTimeout(STEP_TIMEOUT_MS);
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (err) => errors.push(err));
  return { context, page, errors };
}

/** Log in as the demo customer and wait for /account. */
async function logIn(page) {
  await page.goto(url('/login'));
  await page.locator('input[name="email"]').fill(demoCustomer.email);
  await page.locator('input[name="password"]').fill(demoCustomer.password);
  await page.locator('form button[type="submit"]', { hasText: /log in/i }).click();
  await page.waitForURL((u) => u.pathname === '/account');
}

describe('hosted checkout', () => {
  let browser;

  before(async () => {
    browser = await launchBrowser();
  });

  after(async () => {
    await browser?.close();
  });

  test('customer pays the motor policy on the hosted page and sees it active', { timeout: TEST_TIMEOUT_MS }, async () => {
    const { context, page, errors } = await openPage(browser);
    try {
      await logIn(page);

      // From the account page to the checkout of the motor policy.
      const row = page.locator('tr', { hasText: POLICY });
      await row.getByRole('link', { name: 'Pay now' }).click();
      await page.waitForURL((u) => u.pathname === '/account/checkout');
      assert.equal(new URL(page.url()).searchParams.get('policy'), POLICY);
      assert.match(await page.locator('h1').innerText(), /pay for your policy/i);
      const summary = await page.locator('main').innerText();
      assert.match(summary, new RegExp(POLICY));
      assert.match(summary, /4857\.14 AED/, 'premium excluding tax');
      assert.match(summary, /242\.86 AED/, 'tax');
      assert.match(summary, /5100\.00 AED/, 'total');
      assert.match(summary, /Fiat 500/, 'the insured vehicle');
      await screenshot(page, 'hosted-checkout-summary');

      // Choose Payfort and pay.
      await page.getByLabel(/Payfort/).check();
      await page.getByRole('button', { name: /^Pay\b/ }).click();
      await page.waitForURL((u) => u.pathname.startsWith('/sandbox/hosted-checkout/pay/'));

      // The gateway's page: pay with its default test card.
      await page.getByRole('button', { name: 'Pay', exact: true }).click();

      // Back through /api/v3/payment/process/ to Settle's status page.
      await page.waitForURL((u) => /\/payments\/PAY-[0-9A-Z]+$/.test(u.pathname));
      assert.match(
        new URL(page.url()).pathname,
        /^\/account\/payments\/PAY-[0-9A-Z]+$/,
        'process/ must send the customer to the status page /account/payments/{reference}',
      );
      const banner = page.locator('.status-banner.done');
      await banner.waitFor();
      assert.match(await banner.innerText(), /your policy is ready/i);
      const main = await page.locator('main').innerText();
      assert.match(main, new RegExp(POLICY));
      assert.match(main, /active/);
      assert.match(main, /POLICY_CONVERTED/);
      assert.match(main, /Payfort/);
      const reference = new URL(page.url()).pathname.split('/').pop();
      assert.equal(
        await page.getByRole('link', { name: /tax invoice/i }).getAttribute('href'),
        `/account/payments/${reference}/tax-invoice.pdf`,
      );
      assert.equal(
        await page.getByRole('link', { name: /receipt/i }).getAttribute('href'),
        `/account/payments/${reference}/receipt.pdf`,
      );
      // A final state: the page no longer reloads itself.
      assert.equal(await page.locator('meta[http-equiv="refresh"]').count(), 0);
      await screenshot(page, 'hosted-checkout-paid');

      // Nothing is due any more: the account page has no "Pay now" for this policy.
      await page.goto(url('/account'));
      assert.equal(await page.locator('tr', { hasText: POLICY }).getByRole('link', { name: 'Pay now' }).count(), 0);

      assert.deepEqual(errors.map(String), [], 'uncaught JavaScript errors on the page');
    } catch (err) {
      await screenshot(page, 'hosted-checkout-FAILED').catch(() => {});
      throw err;
    } finally {
      await context.close();
    }
  });
});
