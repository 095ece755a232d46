// The demo customer pays the motor policy through a hosted checkout (Payfort, sandbox) and sees
// the policy active on Settle's status page. The checkout's one button says what the chosen way
// of paying does next, and changes with the choice (stylesheet only, no script needed).
//
// Page contract (server side):
//   /account                      a "Pay now" link in the row of each policy with a premium due
//   /account/checkout?policy=…    what is bought, the premium (excl., tax, total), one radio button
//                                 per gateway (label = gateway name), a button "Continue to the
//                                 payment page" / "Get the invoice" / "Continue to card details"
//   hosted page                -> the gateway's page (sandbox: /sandbox/hosted-checkout/pay/{id},
//                                 buttons Pay / Decline / Cancel)
//   gateway's Pay              -> /api/v3/payment/process/?token=… -> /account/payments/{reference}
//   /account/payments/{ref}       `.status-banner.done` "Your policy is ready", the policy number,
//                                 links to the tax invoice and receipt PDFs

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  HOSTED_POLICY,
  STATUS_PATH,
  assertNoProblems,
  checkWidths,
  launchBrowser,
  logIn,
  mainText,
  metaRefresh,
  openContext,
  screenshot,
  url,
} from './helpers.js';

const TEST_TIMEOUT_MS = 90_000;

describe('hosted checkout', () => {
  let browser;

  before(async () => {
    browser = await launchBrowser();
  });

  after(async () => {
    await browser?.close();
  });

  test('customer pays the motor policy on the hosted page and sees it active', { timeout: TEST_TIMEOUT_MS }, async () => {
    const { context, page, problems } = await openContext(browser);
    try {
      await logIn(page);

      // From the account page to the checkout of the motor policy.
      await page.locator('tr', { hasText: HOSTED_POLICY }).getByRole('link', { name: 'Pay now' }).click();
      await page.waitForURL((u) => u.pathname === '/account/checkout');
      assert.equal(new URL(page.url()).searchParams.get('policy'), HOSTED_POLICY);
      assert.match(await page.locator('h1').innerText(), /pay for your policy/i);
      const summary = await mainText(page);
      assert.match(summary, new RegExp(HOSTED_POLICY));
      assert.match(summary, /AED 4,857\.14/, 'premium excluding tax');
      assert.match(summary, /AED 242\.86/, 'tax');
      assert.match(summary, /AED 5,100\.00/, 'total');
      assert.match(summary, /Fiat 500/, 'the insured vehicle');
      assert.match(summary, /Insurer\s+Trinity Lane\n/);
      assert.match(summary, /Scheme\s+Demo Motor Comprehensive/);
      await checkWidths(page, 'hosted-checkout-summary');

      // The button follows the choice.
      const toPage = page.getByRole('button', { name: 'Continue to the payment page' });
      assert.ok(await page.getByLabel(/Payfort/).isChecked(), 'the first way is chosen');
      await toPage.waitFor();
      await page.getByLabel(/Invoice/).check();
      await page.getByRole('button', { name: 'Get the invoice' }).waitFor();
      assert.equal(await toPage.count(), 0);
      await page.getByLabel(/Payfort/).check();
      await toPage.click();
      await page.waitForURL((u) => u.pathname.startsWith('/sandbox/hosted-checkout/pay/'));

      // The gateway's page: pay with its default test card.
      await page.getByRole('button', { name: 'Pay', exact: true }).click();

      // Back through /api/v3/payment/process/ to Settle's status page.
      await page.waitForURL((u) => STATUS_PATH.test(u.pathname));
      const banner = page.locator('.status-banner.done');
      await banner.waitFor();
      assert.match(await banner.innerText(), /your policy is ready/i);
      const main = await mainText(page);
      assert.match(main, new RegExp(HOSTED_POLICY));
      assert.match(main, /Active/);
      assert.match(main, /Paid/);
      assert.match(main, /Payfort/);
      assert.match(main, /AED 5,100\.00/);
      assert.doesNotMatch(main, /POLICY_CONVERTED|payfort-aed/);
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
      assert.equal(await metaRefresh(page), null);
      await checkWidths(page, 'hosted-checkout-paid');

      // Nothing is due any more: the account page has no "Pay now" for this policy.
      await page.goto(url('/account'));
      assert.equal(await page.locator('tr', { hasText: HOSTED_POLICY }).getByRole('link', { name: 'Pay now' }).count(), 0);
      assertNoProblems(problems, 'during the hosted checkout');
    } catch (err) {
      await screenshot(page, 'hosted-checkout-FAILED').catch(() => {});
      throw err;
    } finally {
      await context.close();
    }
  });
});
