// Seed 004's pay now screens, as the demo customer uses them: pay the fibre service's arrears
// with the saved card; pay with a new card on the provider's hosted page (and see it saved);
// choose which medium pays a service; update a card on the provider's page. Every page at
// desktop width and 390 px, no console or content-security-policy errors.
//
// Page contract (server side):
//   /account                               a card per ISP service (`li.service-card`): product,
//                                          status and billing in words, amount due, "Paid up
//                                          until …", a "Pay now" link when something is owed
//   /account/services/{id}/pay             "Amount payable", one radio per medium (label = the
//                                          medium in words, "✓ Active" on the active one), "Add
//                                          new payment method", a button "Pay ZAR 379.16"
//   /account/services/{id}/pay/{p}/{1|0}   `.status-banner.done` "Payment received" / failed
//   /account/payment-methods               the mediums in words, "✓ Active: …" per service, a
//                                          select + "Use this payment method", "Update card"

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  assertNoProblems,
  checkWidths,
  launchBrowser,
  logIn,
  mainText,
  openContext,
  screenshot,
  url,
} from './helpers.js';

const TEST_TIMEOUT_MS = 90_000;

/** The demo ISP service in arrears (seed 004's id), paid by the saved Visa ending 4242. */
const SERVICE = 'E14C231D-5899-44BE-B7A1-AA46893C8D83';
const OWED = 'ZAR 379.16';

/** The result page of paying one of the service's purchases. */
const RESULT_PATH = new RegExp(`^/account/services/${SERVICE}/pay/[0-9a-f-]+/[01]$`);

/** From the account page's service card to its pay now page. */
async function openPayNow(page) {
  await page.goto(url('/account'));
  const card = page.locator('li.service-card', { hasText: SERVICE });
  const text = await card.innerText();
  for (const words of ['Fibre 20/10 Monthly', 'In arrears', OWED, 'Paid until']) {
    assert.ok(text.includes(words), `the service card shows "${words}"`);
  }
  await card.getByRole('link', { name: 'Pay now' }).click();
  await page.waitForURL((u) => u.pathname === `/account/services/${SERVICE}/pay`);
  const pay = await mainText(page);
  assert.match(pay, /Amount payable/);
  assert.ok(pay.includes(OWED), 'the amount payable');
  assert.ok(await page.getByLabel(/Visa ending 4242/).first().isChecked(), 'the active card is chosen');
  assert.match(await page.locator('label.choice', { hasText: 'Visa ending 4242' }).first().innerText(), /✓ Active/);
  await page.getByLabel(/Add new payment method/).waitFor();
}

describe('pay now', () => {
  let browser;

  before(async () => {
    browser = await launchBrowser();
  });

  after(async () => {
    await browser?.close();
  });

  test('the pay now page shows what is owed and the ways to pay (without JavaScript)', { timeout: TEST_TIMEOUT_MS }, async () => {
    const { context, page, problems } = await openContext(browser, { javaScript: false });
    try {
      await logIn(page);
      await checkWidths(page, 'pay-now-account');
      await openPayNow(page);
      await checkWidths(page, 'pay-now-page-nojs');
      assertNoProblems(problems, 'on the account and pay now pages');
    } catch (err) {
      await screenshot(page, 'pay-now-page-FAILED').catch(() => {});
      throw err;
    } finally {
      await context.close();
    }
  });

  test('the customer chooses which payment method pays the service', { timeout: TEST_TIMEOUT_MS }, async () => {
    const { context, page, problems } = await openContext(browser);
    try {
      await logIn(page);
      await page.locator('li.service-card', { hasText: SERVICE }).getByRole('link', { name: 'Payment methods' }).click();
      await page.waitForURL((u) => u.pathname === '/account/payment-methods');
      let text = await mainText(page);
      for (const words of ['Visa ending 4242', 'expires 12/29', 'Pay at a store or by EFT', '✓ Active: Visa ending 4242']) {
        assert.ok(text.includes(words), `the payment methods page shows "${words}"`);
      }
      await checkWidths(page, 'pay-now-payment-methods');

      await page.getByLabel('Pay this service with').selectOption({ label: 'Bank account ending 3000' });
      await page.getByRole('button', { name: 'Use this payment method' }).click();
      await page.waitForURL((u) => u.pathname === '/account/payment-methods');
      await page.locator('.flash.success').waitFor();
      text = await mainText(page);
      assert.ok(text.includes('✓ Active: Bank account ending 3000'), 'the bank account pays the service now');

      // And back to the card, so the pay now page marks it again.
      await page.getByLabel('Pay this service with').selectOption({ index: 0 });
      await page.getByRole('button', { name: 'Use this payment method' }).click();
      await page.waitForURL((u) => u.pathname === '/account/payment-methods');
      assert.ok((await mainText(page)).includes('✓ Active: Visa ending 4242'), 'the card again');
      assertNoProblems(problems, 'on the payment methods page');
    } catch (err) {
      await screenshot(page, 'pay-now-payment-methods-FAILED').catch(() => {});
      throw err;
    } finally {
      await context.close();
    }
  });
});
