// The admin finds a payment by its reference in the payment list and opens its detail: the
// customer first takes an invoice for the motor policy (a payment in state INVOICED), then the
// admin searches for it with the filter form (a plain GET form) and reads its timeline.
// Screenshots of the list and the detail at desktop and 390 px.

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
  openContext,
  screenshot,
  url,
} from './helpers.js';

const TEST_TIMEOUT_MS = 120_000;

describe('admin payments', () => {
  let browser;

  before(async () => {
    browser = await launchBrowser();
  });

  after(async () => {
    await browser?.close();
  });

  test('the admin searches a payment by reference and opens its detail', { timeout: TEST_TIMEOUT_MS }, async () => {
    // A payment to find: the customer asks for an invoice (no JavaScript needed).
    let reference;
    {
      const { context, page } = await openContext(browser, { javaScript: false });
      try {
        await logIn(page);
        await page.goto(url(`/account/checkout?policy=${HOSTED_POLICY}`));
        await page.getByLabel(/Invoice/).check();
        await page.getByRole('button', { name: 'Get the invoice' }).click();
        await page.waitForURL((u) => STATUS_PATH.test(u.pathname));
        reference = new URL(page.url()).pathname.split('/').pop();
      } finally {
        await context.close();
      }
    }
    assert.match(reference, /^PAY-/);

    const { context, page, problems } = await openContext(browser);
    try {
      await logIn(page, 'admin');
      await page.goto(url('/admin/payments'));
      assert.equal(await page.locator('h1').innerText(), 'Payments');
      await page.getByLabel(/^Search/).fill(reference);
      await page.getByRole('button', { name: 'Filter' }).click();
      await page.waitForURL((u) => u.pathname === '/admin/payments' && u.searchParams.get('q') === reference);
      const rows = page.locator('table.payments tbody tr');
      assert.equal(await rows.count(), 1, 'exactly the payment searched for');
      assert.match(await rows.first().innerText(), /INVOICED \(4\)/);
      assert.match(await mainText(page), /1 payment matches/);
      const csv = page.getByRole('link', { name: 'Download CSV' });
      assert.equal(await csv.getAttribute('href'), `/admin/payments/export.csv?q=${reference}`);
      const download = await page.request.get(url(`/admin/payments/export.csv?q=${reference}`));
      assert.equal(download.status(), 200);
      assert.match(await download.text(), new RegExp(`^reference,.*\\n${reference},`, 's'));
      await checkWidths(page, 'admin-payments-list');

      await rows.first().getByRole('link', { name: reference }).click();
      await page.waitForURL((u) => u.pathname === `/admin/payments/${reference}`);
      const text = await mainText(page);
      assert.match(text, new RegExp(`Payment ${reference}`));
      assert.match(text, /INVOICED \(4\)/);
      assert.ok(text.includes(HOSTED_POLICY), 'the service');
      assert.match(text, /Timeline/);
      assert.match(text, /Created as INVOICED \(4\)/, 'the payment\'s creation on the timeline');
      // An invoice not paid yet can be cancelled, not refunded: the page offers what applies.
      assert.equal(
        await page.getByRole('link', { name: 'Cancel' }).getAttribute('href'),
        `/admin/payments/${reference}/cancel`,
      );
      assert.equal(await page.getByRole('link', { name: 'Refund', exact: true }).count(), 0);
      await checkWidths(page, 'admin-payments-detail');
      assertNoProblems(problems, 'on the admin payment pages');
    } catch (err) {
      await screenshot(page, 'admin-payments-FAILED').catch(() => {});
      throw err;
    } finally {
      await context.close();
    }
  });
});
