// Card payment with a 3-D Secure challenge (seed 003) on the short-term motor policy.
//
// The tests run in order against the same demo policy:
//   1. without JavaScript: invalid card details come back with a message per field (and without
//      the card number); the challenge card goes to the bank's check in a frame, the customer
//      presses "Continue to your bank", fails the authentication, and follows the plain link to
//      the status page, which offers "Try another card";
//   2. with JavaScript: the challenge card, "Authenticate", "Continue"; /3ds.js hears the
//      PaymentComplete message and moves on to the status page, where the policy is active.
//
// Page contract (server side):
//   /account/checkout?policy=…           radio per gateway, "Pay …" button -> card page for a card gateway
//   /account/checkout/card?policy=…      inputs card_holder, card_number, expiry_date (MMYY), cv2,
//                                        checkbox billing_same (ticked), "Pay …" button; errors in
//                                        `.field-error`, summary in `.flash.error`
//   /account/payments/{ref}/challenge    <iframe title="Your bank's security check"> of …/challenge/frame
//                                        (form to the ACS with a "Continue to your bank" button) and a
//                                        link "I've finished with my bank — show my payment"
//   /account/payments/{ref}              `.status-banner.done` / `.status-banner.failed`

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { demoCustomer, launchBrowser, screenshot, url } from './helpers.js';

const TEST_TIMEOUT_MS = 120_000;
const STEP_TIMEOUT_MS = 15_000;
const POLICY = 'DEMO/0002/SHORT/WEB';
const CHALLENGE_CARD = '4000 0000 0000 3220';
/** An expiry three years ahead, as MMYY. */
const EXPIRY = `12${String((new Date().getFullYear() + 3) % 100).padStart(2, '0')}`;
const STATUS_PATH = /^\/account\/payments\/PAY-[0-9A-Z]+$/;

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

/** From the account page through the checkout (card gateway) to the card page. */
async function openCardPage(page) {
  await page.locator('tr', { hasText: POLICY }).getByRole('link', { name: 'Pay now' }).click();
  await page.waitForURL((u) => u.pathname === '/account/checkout');
  assert.match(await page.locator('main').innerText(), /51\.34 GBP/);
  await page.getByRole('button', { name: /^Pay\b/ }).click();
  await page.waitForURL((u) => u.pathname === '/account/checkout/card');
  assert.equal(new URL(page.url()).searchParams.get('policy'), POLICY);
  assert.match(await page.locator('h1').innerText(), /pay by card/i);
}

/** Fill the card form with the challenge card and submit it. */
async function payWithChallengeCard(page) {
  await page.getByLabel('Name on the card').fill('J SMITH');
  await page.getByLabel('Card number').fill(CHALLENGE_CARD);
  await page.getByLabel(/Expiry date/).fill(EXPIRY);
  await page.getByLabel(/Security code/).fill('123');
  assert.ok(await page.locator('input[name="billing_same"]').isChecked(), 'billing address = policy address by default');
  await page.getByRole('button', { name: /^Pay\b/ }).click();
  await page.waitForURL((u) => /^\/account\/payments\/PAY-[0-9A-Z]+\/challenge$/.test(u.pathname));
  assert.match(await page.locator('h1').innerText(), /confirm the payment with your bank/i);
}

/** The bank's frame on the challenge page. */
function bankFrame(page) {
  return page.frameLocator('iframe[title="Your bank\'s security check"]');
}

/** Wait for the issuer's page in the frame, pressing "Continue to your bank" if it is still there. */
async function reachIssuerPage(page) {
  const frame = bankFrame(page);
  const authenticate = frame.getByRole('button', { name: 'Authenticate', exact: true });
  const proceed = frame.getByRole('button', { name: 'Continue to your bank' });
  await authenticate.or(proceed).first().waitFor();
  if (!(await authenticate.isVisible()) && (await proceed.isEnabled().catch(() => false))) {
    await proceed.click();
  }
  await authenticate.waitFor();
  return frame;
}

/** Press the issuer's "Continue" and wait until the frame shows Settle's PaymentComplete page. */
async function continueToSettle(page, frame) {
  const completed = page.waitForEvent('framenavigated', {
    predicate: (f) => f !== page.mainFrame() && /\/3ds-complete$/.test(new URL(f.url()).pathname),
    timeout: STEP_TIMEOUT_MS,
  });
  await frame.getByRole('button', { name: 'Continue', exact: true }).click();
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

  test('without JavaScript: field errors, failed bank check, link to the status page', { timeout: TEST_TIMEOUT_MS }, async () => {
    const { context, page } = await openPage(browser, { javaScriptEnabled: false });
    try {
      await logIn(page);
      await openCardPage(page);

      // Invalid details: a message per field, the card number is not echoed back.
      await page.getByLabel('Name on the card').fill('J SMITH');
      await page.getByLabel('Card number').fill('4000 0000 0000 3221');
      await page.getByLabel(/Expiry date/).fill('0120');
      await page.getByLabel(/Security code/).fill('12');
      await page.getByRole('button', { name: /^Pay\b/ }).click();
      await page.waitForURL((u) => u.pathname === '/account/checkout/card');
      await page.locator('.flash.error').waitFor();
      const problems = (await page.locator('.field-error').allInnerTexts()).join('\n');
      assert.match(problems, /Card number is not a valid card number/);
      assert.match(problems, /Expiry date is in the past/);
      assert.match(problems, /Security code must be 3 or 4 digits/);
      assert.equal(await page.getByLabel('Card number').inputValue(), '', 'card number must not come back');
      assert.equal(await page.getByLabel(/Security code/).inputValue(), '', 'CVV must not come back');
      assert.equal(await page.getByLabel('Name on the card').inputValue(), 'J SMITH', 'holder is kept');
      assert.doesNotMatch(await page.content(), /4000 ?0000 ?0000 ?3221/, 'card number in the page');
      await screenshot(page, 'card-invalid-nojs');

      // The challenge card: the bank's check in the frame, started with the visible button.
      await payWithChallengeCard(page);
      const frame = await reachIssuerPage(page);
      await frame.getByRole('button', { name: 'Fail authentication', exact: true }).click();
      // The frame ends on Settle's (empty) PaymentComplete page; without script nothing moves.
      await continueToSettle(page, frame);
      assert.match(new URL(page.url()).pathname, /\/challenge$/, 'the page stays put without script');
      await page.getByRole('link', { name: /finished with my bank/i }).click();
      await page.waitForURL((u) => STATUS_PATH.test(u.pathname));
      const banner = page.locator('.status-banner.failed');
      await banner.waitFor();
      assert.match(await banner.innerText(), /problem with your payment/i);
      await screenshot(page, 'card-failed-nojs');

      // "Try another card" leads back to the card page.
      await banner.getByRole('link', { name: 'Try another card' }).click();
      await page.waitForURL((u) => u.pathname === '/account/checkout/card');
    } catch (err) {
      await screenshot(page, 'card-nojs-FAILED').catch(() => {});
      throw err;
    } finally {
      await context.close();
    }
  });

  test('with JavaScript: the challenge card is authenticated and the policy converted', { timeout: TEST_TIMEOUT_MS }, async () => {
    const { context, page, errors } = await openPage(browser);
    try {
      await logIn(page);
      await openCardPage(page);
      await payWithChallengeCard(page);

      const frame = await reachIssuerPage(page);
      await screenshot(page, 'card-challenge');
      await frame.getByRole('button', { name: 'Authenticate', exact: true }).click();
      await continueToSettle(page, frame);

      // PaymentComplete reaches the page (postMessage) and /3ds.js moves on by itself.
      await page.waitForURL((u) => STATUS_PATH.test(u.pathname));
      const banner = page.locator('.status-banner.done');
      await banner.waitFor();
      assert.match(await banner.innerText(), /your policy is ready/i);
      const main = await page.locator('main').innerText();
      assert.match(main, new RegExp(POLICY));
      assert.match(main, /POLICY_CONVERTED/);
      assert.match(main, /VISA ending 3220/i);
      assert.match(main, /51\.34 GBP/);
      await screenshot(page, 'card-paid');

      assert.deepEqual(errors.map(String), [], 'uncaught JavaScript errors on the page');
    } catch (err) {
      await screenshot(page, 'card-js-FAILED').catch(() => {});
      throw err;
    } finally {
      await context.close();
    }
  });
});
