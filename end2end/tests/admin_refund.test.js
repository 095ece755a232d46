// An admin refunds part of a paid payment: the customer pays the demo's card quote with the
// frictionless test card, then the admin opens the payment's refund page, types part of the
// amount, confirms, and the same page explains the result (what was refunded, what is left).
// The audit log and the ledger are looked at too. Desktop and 390 px, no console or CSP errors.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  STATUS_PATH,
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

const TEST_TIMEOUT_MS = 120_000;

describe('admin refund', () => {
  let browser;

  before(async () => {
    browser = await launchBrowser();
  });

  after(async () => {
    await browser?.close();
  });

  test('an admin refunds part of a paid payment and sees the result', { timeout: TEST_TIMEOUT_MS }, async () => {
    // The customer pays.
    const customer = await openContext(browser);
    let reference;
    try {
      await logIn(customer.page);
      await openCardPage(customer.page);
      await fillCard(customer.page, '4929 0000 0000 6');
      await payButton(customer.page).click();
      await customer.page.waitForURL((u) => STATUS_PATH.test(u.pathname));
      await customer.page.locator('.status-banner.done').waitFor();
      reference = new URL(customer.page.url()).pathname.split('/').pop();
      assertNoProblems(customer.problems, 'while the customer paid');
    } finally {
      await customer.context.close();
    }

    const { context, page, problems } = await openContext(browser);
    try {
      await logIn(page, 'admin');
      // The admin finds the payment by its reference and opens its refund page from it.
      await page.goto(url('/admin/payments'));
      await page.getByLabel(/^Search/).fill(reference);
      await page.getByRole('button', { name: 'Filter' }).click();
      await page.waitForURL((u) => u.searchParams.get('q') === reference);
      await page.locator('table.payments tbody tr').first().getByRole('link', { name: reference }).click();
      await page.waitForURL((u) => u.pathname === `/admin/payments/${reference}`);
      await page.getByRole('link', { name: 'Refund', exact: true }).click();
      await page.waitForURL((u) => u.pathname === `/admin/payments/${reference}/refund`);
      let main = await mainText(page);
      assert.match(main, new RegExp(reference));
      assert.match(main, /Captured\s+51\.34 GBP/);
      assert.match(main, /Already refunded\s+0\.00 GBP/);
      const amount = page.getByLabel('Amount to refund');
      assert.equal(await amount.inputValue(), '51.34', 'a full refund unless the admin types less');
      await checkWidths(page, 'admin-refund-form');

      await amount.fill('20.00');
      await page.getByRole('button', { name: 'Refund' }).click();
      await page.waitForURL((u) => u.pathname === `/admin/payments/${reference}/refund`);
      const flash = page.locator('main .flash.success');
      await flash.waitFor();
      assert.match(await flash.innerText(), /Refunded 20\.00 GBP .* Left to refund: 31\.34 GBP/);
      main = await mainText(page);
      assert.match(main, /Already refunded\s+20\.00 GBP/);
      assert.match(main, /Left to refund\s+31\.34 GBP/);
      assert.match(main, /succeeded/);
      assert.equal(await page.getByLabel('Amount to refund').inputValue(), '31.34');
      await checkWidths(page, 'admin-refund-done');

      // The audit log has it, by whom and from where.
      await page.goto(url('/admin/audit'));
      const row = page.locator('tr', { hasText: 'payment.refund' }).first();
      assert.match(await row.innerText(), /admin@settle\.test/);
      assert.match(await row.innerText(), new RegExp(reference));
      await checkWidths(page, 'admin-audit');

      // The ledger agrees with the gateways.
      await page.goto(url('/admin/ledger'));
      assert.match(await mainText(page), /charges at \d+ gateways compared/);
      await checkWidths(page, 'admin-ledger');
      assertNoProblems(problems, 'on the admin pages');
    } catch (err) {
      await screenshot(page, 'admin-refund-FAILED').catch(() => {});
      throw err;
    } finally {
      await context.close();
    }
  });
});
