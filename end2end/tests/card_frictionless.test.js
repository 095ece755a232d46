// Card payment without a challenge (seed 003's test card) on the short-term motor policy: the
// checkout's button leads to the card form ("Continue to card details"), the card form's Pay
// button says "Paying…" and is disabled once pressed, and the status page shows the policy
// active with its documents, in words and in the money format customers read.

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
  url,
} from './helpers.js';

const TEST_TIMEOUT_MS = 120_000;
const FRICTIONLESS_CARD = '4929 0000 0000 6';

describe('card payment without a challenge', () => {
  let browser;

  before(async () => {
    browser = await launchBrowser();
  });

  after(async () => {
    await browser?.close();
  });

  test('the customer pays by card and sees the policy active', { timeout: TEST_TIMEOUT_MS }, async () => {
    const { context, page, problems } = await openContext(browser);
    try {
      await logIn(page);
      await page.goto(url(`/account/checkout?policy=${CARD_POLICY}`));
      const summary = await mainText(page);
      assert.match(summary, /GBP 45\.84/, 'premium excluding tax');
      assert.match(summary, /GBP 5\.50/, 'tax');
      assert.match(summary, /GBP 51\.34/, 'total');
      assert.match(summary, /Insurer\s+Trinity Lane\n/, 'the insurer once');
      assert.doesNotMatch(summary, /Trinity Lane, Trinity Lane/);
      assert.equal(await page.getByRole('button', { name: /^Pay\b/ }).count(), 0, 'no "Pay" button that only leads on');
      await checkWidths(page, 'frictionless-checkout');

      await openCardPage(page);
      await checkWidths(page, 'frictionless-card-form');
      await fillCard(page, FRICTIONLESS_CARD);

      // What /forms.js does to a sent form, seen on a submit event that sends nothing
      // (Playwright can't look at a page whose navigation is under way).
      const pressed = await page.evaluate(async () => {
        const form = document.querySelector('.card-entry form');
        const button = form.querySelector('button[type="submit"]');
        form.dispatchEvent(new SubmitEvent('submit', { bubbles: true, cancelable: true, submitter: button }));
        await new Promise((resolve) => setTimeout(resolve, 50));
        const again = new SubmitEvent('submit', { bubbles: true, cancelable: true, submitter: button });
        form.dispatchEvent(again);
        return { text: button.textContent, disabled: button.disabled, second: again.defaultPrevented };
      });
      assert.deepEqual(pressed, { text: 'Paying…', disabled: true, second: true }, 'the pressed button says Paying… and a second press is ignored');
      await screenshot(page, 'frictionless-paying');

      // Now for real (the page again, as the synthetic press left the form "sent").
      await page.reload();
      await fillCard(page, FRICTIONLESS_CARD);
      await payButton(page).click();
      await page.waitForURL((u) => STATUS_PATH.test(u.pathname));

      const banner = page.locator('.status-banner.done');
      await banner.waitFor();
      assert.match(await banner.innerText(), /your policy is ready/i);
      const main = await mainText(page);
      assert.match(main, new RegExp(CARD_POLICY));
      assert.match(main, /Active/);
      assert.match(main, /Paid/);
      assert.match(main, /VISA ending 0006/);
      assert.match(main, /GBP 51\.34/);
      assert.doesNotMatch(main, /POLICY_CONVERTED|PAYMENT_SUCCESS/);
      assert.equal(await metaRefresh(page), null, 'a final state does not reload itself');
      await checkWidths(page, 'frictionless-paid');

      // The documents are PDFs; the receipt reads like the page.
      const reference = new URL(page.url()).pathname.split('/').pop();
      for (const doc of ['tax-invoice', 'receipt']) {
        const link = page.getByRole('link', { name: new RegExp(doc.replace('-', ' '), 'i') });
        assert.equal(await link.getAttribute('href'), `/account/payments/${reference}/${doc}.pdf`);
        const response = await page.request.get(url(`/account/payments/${reference}/${doc}.pdf`));
        assert.equal(response.status(), 200, `${doc} downloads`);
        assert.equal(response.headers()['content-type'], 'application/pdf');
      }

      // Nothing is due any more.
      await page.goto(url('/account'));
      const row = page.locator('tr', { hasText: CARD_POLICY });
      assert.equal(await row.getByRole('link', { name: 'Pay now' }).count(), 0);
      assert.match(await row.innerText(), /Nothing due/);
      assert.match(await row.innerText(), /Active/);
      await checkWidths(page, 'frictionless-account');
      assertNoProblems(problems, 'during the card payment');
    } catch (err) {
      await screenshot(page, 'frictionless-FAILED').catch(() => {});
      throw err;
    } finally {
      await context.close();
    }
  });
});
