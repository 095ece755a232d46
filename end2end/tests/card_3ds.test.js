// Card payment with a 3-D Secure challenge (seed 003) on the short-term motor policy, with and
// without JavaScript, on a fresh demo world. The tests run in order:
//   1. without JavaScript: invalid card details come back with a message per field, the expiry
//      date kept (never the number or the security code), the first invalid field focused and
//      every error linked to its field; the challenge card goes to the bank's check in a frame
//      whose one next step is "Continue to your bank"; the customer fails the authentication;
//      the frame ends on Settle's own completion page, which says so, and its "Continue" leaves
//      the frame for the status page, which offers "Try another card";
//   2. with JavaScript: the challenge card, "Authenticate", "Continue"; the completion page in
//      the frame tells the page around it (PaymentComplete), which moves on to the status page,
//      where the policy is active.
//
// Page contract (server side):
//   /account/checkout/card?policy=…      inputs card_holder, card_number, expiry_date (MMYY), cv2,
//                                        checkbox billing_same (ticked), "Pay GBP 51.34"; errors in
//                                        `.field-error` (aria-describedby), summary in `.flash.error`
//   /account/payments/{ref}/challenge    <iframe title="Your bank's security check"> of …/challenge/frame
//                                        (form to the ACS, "Continue to your bank") and under it a
//                                        plain link "show my payment"
//   /account/payments/{ref}/challenge/complete   "Payment authenticated — continue" or "Your bank
//                                        didn't confirm the payment — continue", link target=_top
//   /account/payments/{ref}              `.status-banner.done` / `.status-banner.failed`

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  CARD_POLICY,
  STATUS_PATH,
  STEP_TIMEOUT_MS,
  assertNoProblems,
  checkWidths,
  fillCard,
  launchBrowser,
  logIn,
  mainText,
  openCardPage,
  openContext,
  payButton,
  screenshot,
  url,
} from './helpers.js';

const TEST_TIMEOUT_MS = 150_000;
const CHALLENGE_CARD = '4000 0000 0000 3220';
const CHALLENGE_PATH = /^\/account\/payments\/PAY-[0-9A-Z]+\/challenge$/;

/** The bank's frame on the challenge page. */
function bankFrame(page) {
  return page.frameLocator('iframe[title="Your bank\'s security check"]');
}

/** Pay with the challenge card and wait for the challenge page. */
async function payWithChallengeCard(page) {
  await fillCard(page, CHALLENGE_CARD);
  assert.ok(await page.locator('input[name="billing_same"]').isChecked(), 'billing address = policy address by default');
  await payButton(page).click();
  await page.waitForURL((u) => CHALLENGE_PATH.test(u.pathname));
  assert.match(await page.locator('h1').innerText(), /confirm the payment with your bank/i);
}

/** Press the issuer's "Continue" and wait until the frame shows Settle's completion page. */
async function continueToSettle(page) {
  const completed = page.waitForEvent('framenavigated', {
    predicate: (f) => f !== page.mainFrame() && /\/challenge\/complete$/.test(new URL(f.url()).pathname),
    timeout: STEP_TIMEOUT_MS,
  });
  await bankFrame(page).getByRole('button', { name: 'Continue', exact: true }).click();
  await completed;
}

describe('card payment with 3-D Secure', () => {
  let browser;

  before(async () => {
    browser = await launchBrowser();
  });

  after(async () => {
    await browser?.close();
  });

  test('without JavaScript: field errors, one next step, a failed bank check, the way back', { timeout: TEST_TIMEOUT_MS }, async () => {
    const { context, page, problems } = await openContext(browser, { javaScript: false });
    try {
      await logIn(page);
      await openCardPage(page);
      await checkWidths(page, 'card-form-nojs');

      // Invalid details: a message per field, linked to it; the first invalid field focused.
      await fillCard(page, '4000 0000 0000 3221', { expiry: '0120', cvv: '12' });
      await payButton(page).click();
      await page.waitForURL((u) => u.pathname === '/account/checkout/card');
      await page.locator('.flash.error').waitFor();
      const problemsShown = (await page.locator('.field-error').allInnerTexts()).join('\n');
      assert.match(problemsShown, /Card number is not a valid card number/);
      assert.match(problemsShown, /Expiry date is in the past/);
      assert.match(problemsShown, /Security code must be 3 or 4 digits/);
      const number = page.getByLabel('Card number');
      assert.equal(await number.inputValue(), '', 'card number must not come back');
      assert.equal(await page.getByLabel('Security code').inputValue(), '', 'CVV must not come back');
      assert.equal(await page.getByLabel('Name on the card').inputValue(), 'J SMITH', 'holder is kept');
      assert.equal(await page.getByLabel('Expiry date').inputValue(), '0120', 'expiry is kept');
      assert.equal(await number.getAttribute('autofocus'), '', 'the first invalid field has the focus');
      assert.equal(await page.locator('[autofocus]').count(), 1, 'one field has the focus');
      for (const field of ['card_number', 'expiry_date', 'cv2']) {
        const input = page.locator(`input[name="${field}"]`);
        assert.equal(await input.getAttribute('aria-invalid'), 'true', `${field} is marked invalid`);
        const described = (await input.getAttribute('aria-describedby')) || '';
        assert.ok(described.split(' ').includes(`${field}-error`), `${field}'s error is linked: ${described}`);
        assert.ok((await page.locator(`#${field}-error`).innerText()).length > 0);
      }
      assert.equal(await page.getByLabel('Name on the card').getAttribute('aria-invalid'), null);
      assert.doesNotMatch(await page.content(), /4000 ?0000 ?0000 ?3221/, 'card number in the page');
      await checkWidths(page, 'card-invalid-nojs');

      // The challenge card: the bank's check in the frame; one next step, inside the frame.
      await payWithChallengeCard(page);
      const main = page.locator('main');
      assert.equal(await main.locator('button, a.button').count(), 0, 'no button competes with the frame');
      const frame = bankFrame(page);
      const proceed = frame.getByRole('button', { name: 'Continue to your bank' });
      await proceed.waitFor();
      await checkWidths(page, 'card-challenge-nojs');
      await proceed.click();
      await frame.getByRole('button', { name: 'Fail authentication', exact: true }).click();
      // The frame ends on Settle's own completion page: how the check went, and a way out.
      await continueToSettle(page);
      assert.match(new URL(page.url()).pathname, CHALLENGE_PATH, 'the page stays put without script');
      const reference = new URL(page.url()).pathname.split('/')[3];
      const over = frame.locator('h1');
      await over.waitFor();
      assert.match(await over.innerText(), /didn.t confirm the payment — continue/i);
      const out = frame.getByRole('link', { name: 'Continue' });
      assert.equal(await out.getAttribute('target'), '_top');
      assert.equal(await out.getAttribute('href'), `/account/payments/${reference}`);
      await checkWidths(page, 'card-challenge-done-nojs');
      await out.click();
      await page.waitForURL((u) => STATUS_PATH.test(u.pathname));
      const banner = page.locator('.status-banner.failed');
      await banner.waitFor();
      assert.match(await banner.innerText(), /payment failed/i);
      assert.match(await banner.innerText(), /nothing was taken/i);
      assert.match(await mainText(page), /Payment failed/);
      assert.doesNotMatch(await mainText(page), /PAYMENT_FAILED/);
      await checkWidths(page, 'card-failed-nojs');

      // "Try another card" leads back to the card page.
      await page.goto(url(`/account/payments/${reference}`));
      await page.locator('.status-banner.failed').getByRole('link', { name: 'Try another card' }).click();
      await page.waitForURL((u) => u.pathname === '/account/checkout/card');
      assertNoProblems(problems, 'without JavaScript');
    } catch (err) {
      await screenshot(page, 'card-3ds-nojs-FAILED').catch(() => {});
      throw err;
    } finally {
      await context.close();
    }
  });

  test('with JavaScript: the challenge card is authenticated and the policy converted', { timeout: TEST_TIMEOUT_MS }, async () => {
    const { context, page, problems } = await openContext(browser);
    try {
      await logIn(page);
      await openCardPage(page);
      await payWithChallengeCard(page);

      // /3ds.js sends the frame to the bank by itself.
      const frame = bankFrame(page);
      await frame.getByRole('button', { name: 'Authenticate', exact: true }).waitFor();
      await checkWidths(page, 'card-challenge');
      await frame.getByRole('button', { name: 'Authenticate', exact: true }).click();
      await continueToSettle(page);

      // PaymentComplete reaches the page (postMessage) and /3ds.js moves on by itself.
      await page.waitForURL((u) => STATUS_PATH.test(u.pathname));
      const banner = page.locator('.status-banner.done');
      await banner.waitFor();
      assert.match(await banner.innerText(), /your policy is ready/i);
      const main = await mainText(page);
      assert.match(main, new RegExp(CARD_POLICY));
      assert.match(main, /Paid/);
      assert.match(main, /VISA ending 3220/i);
      assert.match(main, /GBP 51\.34/);
      assert.doesNotMatch(main, /POLICY_CONVERTED|51\.34 GBP/);
      await checkWidths(page, 'card-3ds-paid');

      // Settle's own end of the check says the payment was authenticated.
      const reference = new URL(page.url()).pathname.split('/').pop();
      await page.goto(url(`/account/payments/${reference}/challenge/complete`));
      assert.match(await page.locator('h1').innerText(), /payment authenticated — continue/i);
      assert.equal(await page.getByRole('link', { name: 'Continue' }).getAttribute('target'), '_top');
      await checkWidths(page, 'card-challenge-complete');
      assertNoProblems(problems, 'during the card payment');
    } catch (err) {
      await screenshot(page, 'card-3ds-js-FAILED').catch(() => {});
      throw err;
    } finally {
      await context.close();
    }
  });
});
