// A slow card payment (4000 0000 0000 0259: the acquirer takes the money but its answer hangs,
// so Settle times out not knowing). The sandbox's card provider is made to drop its notification
// and fail status queries meanwhile, so the payment stays in doubt as long as the test needs. The status page says
// honestly what is happening, reloads every 5 seconds for a minute and then leaves it to "Check
// status"; the account page shows the payment in progress instead of "Pay now"; paying again
// leads to the same payment; "Check status" asks the gateway and shows the outcome.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  CARD_POLICY,
  STATUS_PATH,
  assertNoProblems,
  checkWidths,
  fillCard,
  launchBrowser,
  logIn,
  mainText,
  metaRefresh,
  openCardPage,
  openContext,
  payButton,
  screenshot,
  setFaults,
  url,
} from './helpers.js';

const TEST_TIMEOUT_MS = 150_000;
const SLOW_CARD = '4000 0000 0000 0259';
const GOOD_CARD = '4929 0000 0000 6';

describe('slow payment', () => {
  let browser;

  before(async () => {
    browser = await launchBrowser();
  });

  after(async () => {
    await setFaults('card', {}).catch(() => {});
    await browser?.close();
  });

  test('a payment the bank is slow to answer is shown honestly and never taken twice', { timeout: TEST_TIMEOUT_MS }, async () => {
    const { context, page, problems } = await openContext(browser);
    try {
      await logIn(page);
      await openCardPage(page);
      await fillCard(page, SLOW_CARD);
      // The acquirer's notification of the payment gets lost…
      await setFaults('card', { drop_notification_rate: 1 });
      // …and the post takes Settle's 10 s gateway timeout (don't wait for it here).
      await payButton(page).click({ noWaitAfter: true });
      // The acquirer has the request; from now on it can't be asked where it stands either.
      await new Promise((resolve) => setTimeout(resolve, 1_500));
      await setFaults('card', { error_rate: 1, drop_notification_rate: 1 });
      await page.waitForURL((u) => STATUS_PATH.test(u.pathname), { timeout: 30_000 });
      const statusPath = new URL(page.url()).pathname;

      const banner = page.locator('.status-banner');
      assert.equal(await banner.getAttribute('aria-live'), 'polite');
      assert.match(await banner.locator('.feedback').innerText(), /waiting for your bank/i);
      const text = await banner.innerText();
      assert.match(text, /Your bank hasn't answered yet; we're checking with them — you won't be charged twice\./);
      assert.match(text, /checks again every 5 seconds/);
      assert.doesNotMatch(text, /few seconds|updates by itself/);
      assert.match(await metaRefresh(page), /^5;url=\/account\/payments\/PAY-[0-9A-Z]+\?poll=1$/);
      assert.ok(await banner.getByRole('link', { name: 'Check status' }).isVisible());
      await checkWidths(page, 'slow-status');

      // The account page shows the payment in progress, not "Pay now".
      await page.goto(url('/account'));
      const row = page.locator('tr', { hasText: CARD_POLICY });
      assert.equal(await row.getByRole('link', { name: 'Pay now' }).count(), 0, 'no "Pay now" while a payment is open');
      assert.match(await row.innerText(), /Payment in progress/);
      assert.equal(await row.getByRole('link', { name: 'See where it stands' }).getAttribute('href'), statusPath);
      await checkWidths(page, 'slow-account');

      // The checkout offers that payment, not a second one.
      await page.goto(url(`/account/checkout?policy=${CARD_POLICY}`));
      const notice = page.locator('.flash.notice');
      assert.match(await notice.innerText(), /you won't be charged twice/);
      assert.equal(await page.getByRole('button', { name: 'Continue to card details' }).count(), 0);
      assert.equal(await notice.getByRole('link', { name: 'See where your payment stands' }).getAttribute('href'), statusPath);
      await checkWidths(page, 'slow-checkout');

      // Paying again by card leads to the payment under way, with one consistent message.
      await page.goto(url(`/account/checkout/card?policy=${CARD_POLICY}`));
      await fillCard(page, GOOD_CARD);
      await payButton(page).click();
      await page.waitForURL((u) => u.pathname === statusPath);
      const flash = page.locator('.flash.notice');
      assert.match(await flash.innerText(), /already have a payment under way for this policy, so we didn't start another/);
      assert.equal(await page.locator('.flash.error').count(), 0, 'no red "can\'t be started" next to it');
      await checkWidths(page, 'slow-pay-again');

      // After a minute the page stops reloading and leaves it to "Check status".
      await page.goto(url(`${statusPath}?poll=12`));
      assert.equal(await metaRefresh(page), null, 'no more reloads after a minute');
      assert.match(await mainText(page), /We keep checking in the background/);
      await checkWidths(page, 'slow-status-after-a-minute');

      // The acquirer answers again: "Check status" asks it and shows the outcome.
      await setFaults('card', {});
      await page.getByRole('link', { name: 'Check status' }).click();
      await page.waitForURL((u) => u.pathname === statusPath && u.searchParams.has('check'));
      const done = page.locator('.status-banner.done');
      await done.waitFor();
      assert.match(await done.innerText(), /your policy is ready/i);
      assert.match(await mainText(page), /VISA ending 0259/);
      await checkWidths(page, 'slow-paid');
      assertNoProblems(problems, 'during the slow payment');
    } catch (err) {
      await screenshot(page, 'slow-payment-FAILED').catch(() => {});
      throw err;
    } finally {
      await context.close();
    }
  });
});
