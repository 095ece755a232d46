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
//   /account/services/{id}/buy             bundle options (radio), "How many", "Continue" -> the
//                                          quote's pay page /account/services/{id}/buy/{p}
//   provider pages (sandbox)               hosted checkout: Pay / Decline / Cancel; card update:
//                                          "New card number", "Save card"

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
/** The demo service in arrears with no saved card: paid with a new card on the provider's page. */
const NEW_CARD_SERVICE = 'B687E259-FF63-4FAD-81B8-DFDF4CB726AC';
/** The demo LTE day-bundle service, paid up: bundles are bought ahead. */
const LTE_SERVICE = '5d1b9a7e-3c42-4e8f-b6a1-7e2c9d4f0b15';

/** The result page of paying one of the service's purchases. */
function resultPath(service) {
  return new RegExp(`^/account/services/${service}/pay/[0-9a-f-]+/[01]$`);
}

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
      const text = await mainText(page);
      for (const words of ['Visa ending 4242', 'expires 12/29', 'Pay at a store or by EFT', '✓ Active: Visa ending 4242']) {
        assert.ok(text.includes(words), `the payment methods page shows "${words}"`);
      }
      await checkWidths(page, 'pay-now-payment-methods');

      const block = () => page.locator('.service-medium', { hasText: SERVICE });
      await block().getByLabel('Pay this service with').selectOption({ label: 'Bank account ending 3000' });
      await block().getByRole('button', { name: 'Use this payment method' }).click();
      await page.waitForURL((u) => u.pathname === '/account/payment-methods');
      await page.locator('.flash.success').waitFor();
      assert.match(await block().innerText(), /✓ Active: Bank account ending 3000/, 'the bank account pays the service now');

      // And back to the card, so the pay now page marks it again.
      await block().getByLabel('Pay this service with').selectOption({ index: 0 });
      await block().getByRole('button', { name: 'Use this payment method' }).click();
      await page.waitForURL((u) => u.pathname === '/account/payment-methods');
      assert.match(await block().innerText(), /✓ Active: Visa ending 4242/, 'the card again');
      assertNoProblems(problems, 'on the payment methods page');
    } catch (err) {
      await screenshot(page, 'pay-now-payment-methods-FAILED').catch(() => {});
      throw err;
    } finally {
      await context.close();
    }
  });
  test('the customer pays the arrears with the saved card', { timeout: TEST_TIMEOUT_MS }, async () => {
    const { context, page, problems } = await openContext(browser);
    try {
      await logIn(page);
      await openPayNow(page);
      await checkWidths(page, 'pay-now-page');
      await page.getByRole('button', { name: `Pay ${OWED}` }).click();
      await page.waitForURL((u) => resultPath(SERVICE).test(u.pathname));
      const banner = page.locator('.status-banner.done');
      await banner.waitFor();
      assert.match(await banner.innerText(), /Payment received/);
      assert.match(await banner.innerText(), /Paid up until \d{1,2} \w+ \d{4}/);
      await checkWidths(page, 'pay-now-result');

      // The account page: paid up, nothing to pay on that service.
      await page.getByRole('link', { name: 'Back to your account' }).click();
      const card = page.locator('li.service-card', { hasText: SERVICE });
      assert.match(await card.innerText(), /Paid up until/);
      assert.equal(await card.getByRole('link', { name: 'Pay now' }).count(), 0, 'nothing to pay');
      assertNoProblems(problems, 'paying with the saved card');
    } catch (err) {
      await screenshot(page, 'pay-now-saved-card-FAILED').catch(() => {});
      throw err;
    } finally {
      await context.close();
    }
  });

  test('the customer pays with a new card on the hosted page and it is saved', { timeout: TEST_TIMEOUT_MS }, async () => {
    const { context, page, problems } = await openContext(browser);
    try {
      await logIn(page);
      await page.goto(url('/account/payment-methods'));
      const cardsBefore = await page.getByRole('link', { name: 'Update card' }).count();
      await page.goto(url('/account'));
      await page.locator('li.service-card', { hasText: NEW_CARD_SERVICE }).getByRole('link', { name: 'Pay now' }).click();
      await page.waitForURL((u) => u.pathname === `/account/services/${NEW_CARD_SERVICE}/pay`);
      await page.getByLabel(/Add new payment method/).check();
      await page.getByRole('button', { name: /^Pay ZAR/ }).click();
      await page.waitForURL((u) => u.pathname.startsWith('/sandbox/hosted-checkout/pay/'));
      await page.getByRole('button', { name: 'Pay', exact: true }).click();
      await page.waitForURL((u) => resultPath(NEW_CARD_SERVICE).test(u.pathname));
      await page.locator('.status-banner.done').waitFor();
      assert.match(await mainText(page), /Payment received/);
      await checkWidths(page, 'pay-now-new-card-result');

      await page.goto(url('/account/payment-methods'));
      assert.equal(await page.getByRole('link', { name: 'Update card' }).count(), cardsBefore + 1, 'the new card is saved');
      assertNoProblems(problems, 'paying with a new card');
    } catch (err) {
      await screenshot(page, 'pay-now-new-card-FAILED').catch(() => {});
      throw err;
    } finally {
      await context.close();
    }
  });

  test('the customer buys a 7-day bundle (without JavaScript)', { timeout: TEST_TIMEOUT_MS }, async () => {
    const { context, page, problems } = await openContext(browser, { javaScript: false });
    try {
      await logIn(page);
      const card = page.locator('li.service-card', { hasText: LTE_SERVICE });
      const before = (await card.innerText()).match(/Paid up until (.+)/)[1];
      await card.getByRole('link', { name: 'Buy now' }).click();
      await page.waitForURL((u) => u.pathname === `/account/services/${LTE_SERVICE}/buy`);
      assert.match(await mainText(page), /7 Day bundle · ZAR 11\.50 each/);
      await checkWidths(page, 'pay-now-buy');
      await page.getByLabel(/7 Day bundle/).check();
      await page.getByLabel('How many').fill('2');
      await page.getByRole('button', { name: 'Continue' }).click();
      await page.waitForURL((u) => u.pathname.startsWith(`/account/services/${LTE_SERVICE}/buy/`));
      const quote = await mainText(page);
      assert.match(quote, /2 × 7 days/);
      assert.match(quote, /ZAR 20\.00/, 'excluding tax');
      assert.match(quote, /ZAR 3\.00/, 'tax');
      await checkWidths(page, 'pay-now-buy-quote');
      await page.getByRole('button', { name: 'Pay ZAR 23.00' }).click();
      await page.waitForURL((u) => resultPath(LTE_SERVICE).test(u.pathname));
      const banner = await page.locator('.status-banner.done').innerText();
      assert.match(banner, /Payment received/);
      const after = banner.match(/Paid up until (.+?)\./)[1];
      const days = (Date.parse(after) - Date.parse(before)) / 86_400_000;
      assert.equal(days, 14, `two weeks more: ${before} -> ${after}`);
      assertNoProblems(problems, 'buying a bundle');
    } catch (err) {
      await screenshot(page, 'pay-now-buy-FAILED').catch(() => {});
      throw err;
    } finally {
      await context.close();
    }
  });

  test('the customer updates a card on the provider\'s page', { timeout: TEST_TIMEOUT_MS }, async () => {
    const { context, page, problems } = await openContext(browser);
    try {
      await logIn(page);
      await page.goto(url('/account/payment-methods'));
      await page.locator('li.medium', { hasText: 'Visa ending 4242' }).first().getByRole('link', { name: 'Update card' }).click();
      await page.waitForURL((u) => /^\/account\/payment-methods\/[0-9a-f-]+\/update$/.test(u.pathname));
      await checkWidths(page, 'pay-now-card-update');
      await page.getByRole('button', { name: 'Continue to the card provider' }).click();
      await page.waitForURL((u) => u.pathname.startsWith('/sandbox/'));
      await page.getByLabel('New card number').fill('5555 5555 5555 4444');
      await page.getByRole('button', { name: 'Save card' }).click();
      await page.waitForURL((u) => u.pathname === '/account/payment-methods');
      const text = await mainText(page);
      assert.match(text, /ending 4444/);
      assert.match(text, /expires 12\/30/);
      await checkWidths(page, 'pay-now-card-updated');
      assertNoProblems(problems, 'updating a card');
    } catch (err) {
      await screenshot(page, 'pay-now-card-update-FAILED').catch(() => {});
      throw err;
    } finally {
      await context.close();
    }
  });
});
