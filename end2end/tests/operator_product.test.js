// The operator creates a day-bundle product in the console (without JavaScript: plain forms),
// gives it an option and a gateway; the demo merchant opens a service for the demo customer on
// it through its API; the customer buys three days of it and pays with the saved card. Every
// console page at desktop width and 390 px, no console or content-security-policy errors.
//
// Page contract (server side):
//   /operator                     links "Products and billing schemes", "Gateways", "Purchase sources"
//   /operator/products            the products table; "New product" form (Code, Name, Merchant,
//                                 Billing, Currency, Unit price (excluding tax), Tax rate (%), …),
//                                 "Create product" -> /operator/products/{code}
//   /operator/products/{code}     "Add an option" (Each quantity adds, Description, Price of one
//                                 quantity (excluding tax), Days or months one quantity adds,
//                                 Fewest/Most quantities at once), "Gateway keys, in order"

import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
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

const TEST_TIMEOUT_MS = 120_000;
const CODE = `WIFI-${Date.now().toString(36).toUpperCase()}`;
const SERVICE = randomUUID();

/** A token for the demo merchant's API (client credentials). */
async function merchantToken() {
  const response = await fetch(url('/oauth/token'), {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({
      grant_type: 'client_credentials',
      client_id: 'invoice-system-client',
      client_secret: 'settle-demo-client-secret',
    }),
  });
  assert.equal(response.status, 200, 'a merchant token');
  return (await response.json()).access_token;
}

describe('operator product', () => {
  let browser;

  before(async () => {
    browser = await launchBrowser();
  });

  after(async () => {
    await browser?.close();
  });

  test('an operator creates a day-bundle product that a customer then buys', { timeout: TEST_TIMEOUT_MS }, async () => {
    const operator = await openContext(browser, { javaScript: false });
    let page = operator.page;
    try {
      await logIn(page, 'operator');
      await checkWidths(page, 'operator-start');
      await page.getByRole('link', { name: 'Products and billing schemes' }).click();
      await page.waitForURL((u) => u.pathname === '/operator/products');

      // A mistake first: the form comes back with a message on the field.
      await page.getByLabel('Code').fill(CODE);
      await page.getByLabel('Name', { exact: true }).fill('Wi-Fi Day Pass');
      await page.getByLabel('Unit price (excluding tax)').fill('five');
      await page.getByRole('button', { name: 'Create product' }).click();
      await page.waitForURL((u) => u.pathname === '/operator/products');
      assert.match(await mainText(page), /Unit price \(excluding tax\) must be an amount/);
      await checkWidths(page, 'operator-products-error');

      await page.getByLabel('Name', { exact: true }).fill('Wi-Fi Day Pass');
      await page.getByLabel('Merchant').selectOption({ label: 'Demo Insurer & ISP' });
      await page.getByLabel('Billing').selectOption({ label: 'Day bundles' });
      await page.getByLabel('Unit price (excluding tax)').fill('5.00');
      await page.getByLabel('Tax rate (%)').fill('15');
      await page.getByRole('button', { name: 'Create product' }).click();
      await page.waitForURL((u) => u.pathname === `/operator/products/${CODE}`);
      await page.locator('.flash.success').waitFor();

      await page.getByLabel('Each quantity adds').selectOption({ label: 'Days' });
      await page.getByLabel('Description').fill('1 Day pass');
      await page.getByLabel('Price of one quantity (excluding tax)').fill('5.00');
      await page.getByLabel('Days or months one quantity adds').fill('1');
      await page.getByLabel('Fewest quantities at once').fill('1');
      await page.getByLabel('Most quantities at once').fill('30');
      await page.getByRole('button', { name: 'Add option' }).click();
      await page.waitForURL((u) => u.pathname === `/operator/products/${CODE}`);
      assert.match(await mainText(page), /1 Day pass/);

      await page.getByLabel('Gateway keys, in order').fill('peach-zar');
      await page.getByRole('button', { name: 'Save gateways' }).click();
      await page.waitForURL((u) => u.pathname === `/operator/products/${CODE}`);
      assert.match(await mainText(page), /Gateways saved/);
      await checkWidths(page, 'operator-product-edit');

      await page.goto(url('/operator/products'));
      assert.match(await mainText(page), new RegExp(`${CODE}[\\s\\S]*Wi-Fi Day Pass[\\s\\S]*peach-zar`));
      await checkWidths(page, 'operator-products');
      await page.goto(url('/operator/gateways'));
      await checkWidths(page, 'operator-gateways');
      await page.goto(url('/operator/gateways/peach-zar'));
      await checkWidths(page, 'operator-gateway-edit');
      await page.goto(url('/operator/purchase-sources'));
      await checkWidths(page, 'operator-purchase-sources');
      assertNoProblems(operator.problems, 'in the operator console');
    } catch (err) {
      await screenshot(page, 'operator-product-FAILED').catch(() => {});
      throw err;
    } finally {
      await operator.context.close();
    }

    // The merchant opens a service on the new product for the demo customer.
    const token = await merchantToken();
    const today = new Date().toISOString().slice(0, 10);
    const created = await fetch(url('/api/services'), {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify({
        reference: SERVICE,
        customer_code: 'CUST-0001',
        product_code: CODE,
        status: 'Active',
        period_start: today,
        period_end: today,
        collector_id: '195ccad5-02fc-4dc2-8589-7d85e44ffe30',
      }),
    });
    assert.equal(created.status, 201, `the service: ${await created.clone().text()}`);

    // The customer buys three days of it with JavaScript on (the CSP is checked).
    const customer = await openContext(browser);
    page = customer.page;
    try {
      await logIn(page);
      await page.goto(url(`/account/services/${SERVICE}/buy`));
      assert.match(await mainText(page), /1 Day pass · ZAR 5\.75 each/);
      await page.getByLabel(/1 Day pass/).check();
      await page.getByLabel('How many').fill('3');
      await page.getByRole('button', { name: 'Continue' }).click();
      await page.waitForURL((u) => u.pathname.startsWith(`/account/services/${SERVICE}/buy/`));
      const quote = await mainText(page);
      assert.match(quote, /3 × 1 day/);
      assert.match(quote, /ZAR 15\.00/, 'excluding tax');
      assert.match(quote, /ZAR 2\.25/, 'tax');
      await checkWidths(page, 'operator-product-customer-quote');
      const card = page.getByLabel(/Visa ending 1111/);
      if (await card.count()) await card.first().check();
      await page.getByRole('button', { name: 'Pay ZAR 17.25' }).click();
      await page.waitForURL((u) => new RegExp(`^/account/services/${SERVICE}/pay/[0-9a-f-]+/[01]$`).test(u.pathname));
      assert.match(await page.locator('.status-banner.done').innerText(), /Payment received/);
      await checkWidths(page, 'operator-product-customer-paid');
      assertNoProblems(customer.problems, 'buying the new product');
    } catch (err) {
      await screenshot(page, 'operator-product-customer-FAILED').catch(() => {});
      throw err;
    } finally {
      await customer.context.close();
    }
  });
});
