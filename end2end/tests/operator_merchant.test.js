// An operator registers a merchant and sees its client secret once: the secret page shows it,
// a reload shows it no more; the merchant's page and the users page render at desktop width and
// on a 390 px phone, with and without JavaScript, with no console or CSP errors.
//
// Page contract (server side):
//   /operator/merchants             a table of merchants; a "Register a merchant" form (Name,
//                                   Client id, Webhook URL, Return origins) posting without script.
//   /operator/merchants/:id/secret  `#client-secret` (and `#webhook-secret`) once; afterwards a
//                                   sentence saying it can't be shown again.
//   /operator/merchants/:id         credentials without the secret, API logins, webhooks, return
//                                   origins, default return URLs.
//   /operator/users                 every account, a form to open one, "Disable" buttons.

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

const TEST_TIMEOUT_MS = 120_000;

describe('operator: merchants and users', () => {
  let browser;

  before(async () => {
    browser = await launchBrowser();
  });

  after(async () => {
    await browser?.close();
  });

  for (const javaScript of [true, false]) {
    const how = javaScript ? 'with JavaScript' : 'without JavaScript';
    const tag = javaScript ? '' : '-nojs';
    test(`an operator registers a merchant and sees its secret once (${how})`, { timeout: TEST_TIMEOUT_MS }, async () => {
      const { context, page, problems } = await openContext(browser, { javaScript });
      try {
        await logIn(page, 'operator');
        await page.goto(url('/operator/merchants'));
        assert.match(await page.locator('h1').innerText(), /Merchants/);
        assert.match(await mainText(page), /invoice-system-client/);

        // A problem comes back at its field, with what was typed.
        await page.getByLabel('Name', { exact: true }).fill('Browser Shop');
        await page.getByLabel('Client id').fill('has a space');
        await page.getByRole('button', { name: 'Register the merchant' }).click();
        await page.waitForURL((u) => u.pathname === '/operator/merchants');
        assert.match(await mainText(page), /Client id is required and may not contain spaces\./);
        assert.equal(await page.getByLabel('Name', { exact: true }).inputValue(), 'Browser Shop');
        await checkWidths(page, `operator-merchants${tag}`);

        const clientId = `browser-shop${tag}`;
        await page.getByLabel('Client id').fill(clientId);
        await page.getByLabel('Webhook URL').fill('https://hooks.shop.example/settle');
        await page.getByLabel('Return origins').fill('https://shop.example\nhttp://127.0.0.1:8080');
        await page.getByRole('button', { name: 'Register the merchant' }).click();
        await page.waitForURL((u) => /^\/operator\/merchants\/[^/]+\/secret$/.test(u.pathname));
        const secretPage = new URL(page.url()).pathname;
        const secret = (await page.locator('#client-secret').innerText()).trim();
        assert.match(secret, /^stl_cs_[A-Za-z0-9_-]{40,}$/, 'a generated client secret');
        assert.match((await page.locator('#webhook-secret').innerText()).trim(), /^whsec_/);
        await checkWidths(page, `operator-merchant-secret${tag}`);

        // The secret works for a client-credentials token.
        const token = await fetch(url('/oauth/token'), {
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
          body: new URLSearchParams({ grant_type: 'client_credentials', client_id: clientId, client_secret: secret }),
        });
        assert.equal(token.status, 200, 'the shown secret gets a token');

        // Shown once: a reload shows it no more.
        await page.goto(url(secretPage));
        assert.equal(await page.locator('#client-secret').count(), 0, 'the secret is not shown twice');
        assert.match(await mainText(page), /shown once and can't be shown again/);

        await page.getByRole('link', { name: 'Back to the merchant' }).click();
        await page.waitForURL((u) => u.pathname === secretPage.replace(/\/secret$/, ''));
        const text = await mainText(page);
        assert.ok(text.includes(clientId) && !text.includes(secret), 'the merchant page never shows the secret');
        assert.match(text, /https:\/\/shop\.example/);
        await checkWidths(page, `operator-merchant${tag}`);

        await page.goto(url('/operator/users'));
        assert.match(await mainText(page), /customer@settle\.test/);
        await checkWidths(page, `operator-users${tag}`);
        assertNoProblems(problems, 'on the operator merchant pages');
      } catch (err) {
        await screenshot(page, `operator-merchant${tag}-FAILED`).catch(() => {});
        throw err;
      } finally {
        await context.close();
      }
    });
  }
});
