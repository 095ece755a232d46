// The motor policy paid by invoice, without JavaScript: the checkout's button reads "Get the
// invoice" once the invoice is chosen (stylesheet only); the status page of the INVOICED payment
// says how to pay (bank transfer to the seller, quoting the reference) and links the invoice
// PDF; the account page shows the invoice instead of "Pay now".

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

describe('invoice', () => {
  let browser;

  before(async () => {
    browser = await launchBrowser();
  });

  after(async () => {
    await browser?.close();
  });

  test('the customer gets an invoice and sees how to pay it', { timeout: TEST_TIMEOUT_MS }, async () => {
    const { context, page, problems } = await openContext(browser, { javaScript: false });
    try {
      await logIn(page);
      await page.goto(url(`/account/checkout?policy=${HOSTED_POLICY}`));
      const choice = page.getByLabel(/Invoice/);
      assert.match(await page.locator('label.choice', { has: choice }).innerText(), /bank transfer/i);
      await choice.check();
      const get = page.getByRole('button', { name: 'Get the invoice' });
      await get.waitFor();
      assert.equal(await page.getByRole('button', { name: /^Pay\b/ }).count(), 0, 'no "Pay AED …" for an invoice');
      await checkWidths(page, 'invoice-checkout');
      await get.click();
      await page.waitForURL((u) => STATUS_PATH.test(u.pathname));
      const reference = new URL(page.url()).pathname.split('/').pop();

      // How to pay: the amount, to whom, the reference to quote, and the invoice itself.
      const banner = page.locator('.status-banner');
      assert.match(await banner.locator('.feedback').innerText(), /your invoice is ready/i);
      const text = await banner.innerText();
      assert.match(text, /Pay AED 5,100\.00 by bank transfer to Demo Insurer & ISP/);
      assert.ok(text.includes(`quoting ${reference} as the payment reference`), text);
      assert.match(text, /Standard Bank, account 012 345 678, branch code 051001/, 'the bank details');
      assert.match(text, /Your policy starts once your payment has arrived/);
      const invoice = banner.getByRole('link', { name: /Download the invoice/ });
      assert.equal(await invoice.getAttribute('href'), `/account/payments/${reference}/tax-invoice.pdf`);
      assert.match(await invoice.innerText(), new RegExp(`INV-${reference}`));
      const pdf = await page.request.get(url(`/account/payments/${reference}/tax-invoice.pdf`));
      assert.equal(pdf.status(), 200);
      assert.equal(pdf.headers()['content-type'], 'application/pdf');
      assert.match(await mainText(page), /Status\s+Invoiced/);
      assert.doesNotMatch(await mainText(page), /INVOICED/);
      assert.equal(await metaRefresh(page), null, 'an invoice does not reload the page');
      await checkWidths(page, 'invoice-status');

      // The account page shows the invoice instead of "Pay now".
      await page.goto(url('/account'));
      const row = page.locator('tr', { hasText: HOSTED_POLICY });
      assert.equal(await row.getByRole('link', { name: 'Pay now' }).count(), 0);
      assert.match(await row.innerText(), /Invoice issued/);
      assert.equal(await row.getByRole('link', { name: 'How to pay it' }).getAttribute('href'), `/account/payments/${reference}`);
      await checkWidths(page, 'invoice-account');

      // The checkout says an invoice waits, and still lets the customer pay another way.
      await page.goto(url(`/account/checkout?policy=${HOSTED_POLICY}`));
      assert.match(await page.locator('.flash.notice').innerText(), /an invoice for this policy is waiting to be paid/i);
      await page.getByRole('button', { name: 'Continue to the payment page' }).waitFor();
      await checkWidths(page, 'invoice-checkout-again');
      assertNoProblems(problems, 'during the invoice');
    } catch (err) {
      await screenshot(page, 'invoice-FAILED').catch(() => {});
      throw err;
    } finally {
      await context.close();
    }
  });
});
