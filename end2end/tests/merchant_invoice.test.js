// Seed 001 in a browser: the merchant's invoice system creates a payment through the API (its
// API user's token), then its customer follows the merchant's payment link, logs in to Settle,
// pays the invoice by card on the hosted pay page and lands back on the merchant's URL. The
// merchant's site is played by a route the test fulfils (nothing listens on localhost:8080).

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  EXPIRY,
  assertNoProblems,
  baseUrl,
  checkWidths,
  demoCustomer,
  launchBrowser,
  mainText,
  openContext,
  screenshot,
  url,
} from './helpers.js';

const TEST_TIMEOUT_MS = 120_000;
const MERCHANT_BACK = 'http://localhost:8080/invoices/done';

/** Step 1 and 2 of the document: the token, then the payment; answers the invoice id. */
async function createInvoice(reference) {
  const tokenResponse = await fetch(url('/auth/realms/PGW/protocol/openid-connect/token'), {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({
      username: 'api@demo-insurer.test',
      password: 'settle-merchant-api',
      grant_type: 'password',
      client_id: 'invoice-system-client',
    }),
  });
  assert.equal(tokenResponse.status, 200, 'the API user gets a token');
  const { access_token: token } = await tokenResponse.json();
  const created = await fetch(url('/api/v1/payment'), {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: `{"amount": 5100.00, "type": "XYZ", "customerCode": "CUST-0001",
      "merchantReference": "${reference}", "redirectionUrl": "${MERCHANT_BACK}",
      "itemName": "Motor policy renewal", "beneficiaryCode": "20",
      "additionalFields": [{"code": "documentNo", "value": "TST1201901260"}]}`,
  });
  assert.equal(created.status, 200, 'the payment is created');
  const body = await created.json();
  assert.equal(body.merchantReference, reference);
  assert.match(body.invoiceId, /^XYZ\d{4}-[0-9a-f]{5}$/);
  return body.invoiceId;
}

describe('a merchant invoice paid on the hosted pay page', () => {
  let browser;

  before(async () => {
    browser = await launchBrowser();
  });

  after(async () => {
    await browser?.close();
  });

  test('the customer follows the payment link, logs in, pays and returns to the merchant', { timeout: TEST_TIMEOUT_MS }, async () => {
    const invoice = await createInvoice('REF-E2E-1');
    const { context, page, problems } = await openContext(browser);
    await context.route('http://localhost:8080/**', (route) =>
      route.fulfill({ status: 200, contentType: 'text/html', body: '<!DOCTYPE html><title>Merchant</title><h1>Thank you for paying</h1>' }));
    try {
      const payPage = `${baseUrl}/api/v1/pay/XYZ/REF-E2E-1/${invoice}`;
      const link = url(`/auth/realms/PGW/protocol/openid-connect/auth?client_id=invoice-system-client&redirect_uri=${encodeURIComponent(payPage)}`);
      await page.goto(link);
      await page.waitForURL((u) => u.pathname === '/login');
      await page.locator('input[name="email"]').fill(demoCustomer.email);
      await page.locator('input[name="password"]').fill(demoCustomer.password);
      await page.getByRole('button', { name: 'Log in' }).click();
      await page.waitForURL((u) => u.pathname === `/account/invoices/${invoice}`);

      const main = await mainText(page);
      assert.match(main, new RegExp(invoice));
      assert.match(main, /ZAR 5,100\.00/);
      assert.match(main, /Motor policy renewal/);
      assert.match(main, /Demo Insurer/);
      assert.ok(await page.getByRole('button', { name: /bank transfer/i }).count(), 'bank transfer is offered');
      assert.ok(await page.getByRole('button', { name: /mobile money/i }).count(), 'mobile money is offered');
      await checkWidths(page, 'merchant-invoice');

      await page.getByLabel('Name on the card').fill('T MOKOENA');
      await page.getByLabel('Card number').fill('4929 0000 0000 6');
      await page.getByLabel('Expiry date').fill(EXPIRY);
      await page.getByLabel('Security code').fill('123');
      await page.getByLabel('House number or name').fill('12');
      await page.getByLabel('Street').fill('Long Street');
      await page.getByLabel('Town or city').fill('Cape Town');
      await page.getByLabel('Postcode').fill('8001');
      await screenshot(page, 'merchant-invoice-filled');
      await page.getByRole('button', { name: 'Pay ZAR 5,100.00' }).click();
      await page.waitForURL((u) => u.href.startsWith(MERCHANT_BACK));
      assert.match(await page.locator('h1').innerText(), /Thank you for paying/);
      await screenshot(page, 'merchant-invoice-back-at-the-merchant');

      // The invoice is paid now, and says so.
      await page.goto(url(`/account/invoices/${invoice}`));
      assert.match(await mainText(page), /Paid\./);
      assert.equal(await page.getByRole('button', { name: /^Pay / }).count(), 0, 'no way to pay twice');
      await checkWidths(page, 'merchant-invoice-paid');
      assertNoProblems(problems, 'during the invoice payment');
    } catch (err) {
      await screenshot(page, 'merchant-invoice-FAILED').catch(() => {});
      throw err;
    } finally {
      await context.close();
    }
  });
});
