// Log in and see the account: the demo customer's policies and services, in words and in the
// money format customers read, at desktop width and on a 390 px phone; a wrong password keeps the
// email; another role's page is a 403 with the site's header.
//
// Page contract (server side):
//   GET /login   inputs email and password, a "Log in" button; a plain form POST answered with a
//                redirect (no JavaScript needed); after a failure `.flash.error`, the email filled
//                in again, the password empty and focused.
//   /account     <h1> with the customer's name; a row per policy or service; "Pay now" for a
//                policy with a premium due.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  CARD_POLICY,
  HOSTED_POLICY,
  assertNoProblems,
  checkWidths,
  demoCustomer,
  launchBrowser,
  logIn,
  mainText,
  openContext,
  screenshot,
  url,
} from './helpers.js';

const TEST_TIMEOUT_MS = 90_000;

describe('log in and see the account', () => {
  let browser;

  before(async () => {
    browser = await launchBrowser();
  });

  after(async () => {
    await browser?.close();
  });

  for (const javaScript of [true, false]) {
    const how = javaScript ? 'with JavaScript' : 'without JavaScript';
    test(`the customer logs in and sees their policies and services (${how})`, { timeout: TEST_TIMEOUT_MS }, async () => {
      const { context, page, problems } = await openContext(browser, { javaScript });
      try {
        await page.goto(url('/login'));
        await checkWidths(page, `account-login${javaScript ? '' : '-nojs'}`);
        await logIn(page);
        assert.match(await page.locator('h1').innerText(), new RegExp(demoCustomer.name));

        const text = await mainText(page);
        for (const words of ['AED 5,100.00', 'GBP 51.34', 'ZAR 379.16', 'Quote', 'Active', 'Not billed yet', 'In arrears']) {
          assert.ok(text.includes(words), `the account page shows "${words}"`);
        }
        for (const code of ['InArrears', 'Unbilled', 'PaidUp', 'quoted', '5100.00 AED']) {
          assert.ok(!text.includes(code), `no internal code "${code}" on the account page`);
        }
        for (const policy of [HOSTED_POLICY, CARD_POLICY]) {
          const pay = page.locator('tr', { hasText: policy }).getByRole('link', { name: 'Pay now' });
          assert.equal(await pay.count(), 1, `"Pay now" for ${policy}`);
        }
        await checkWidths(page, `account-home${javaScript ? '' : '-nojs'}`);
        // On a phone "Pay now" is on screen, not beyond its right edge.
        await page.setViewportSize({ width: 390, height: 844 });
        const box = await page.locator('tr', { hasText: HOSTED_POLICY }).getByRole('link', { name: 'Pay now' }).boundingBox();
        assert.ok(box && box.x >= 0 && box.x + box.width <= 390, `"Pay now" fits the phone: ${JSON.stringify(box)}`);
        await page.setViewportSize({ width: 1280, height: 900 });
        assertNoProblems(problems, 'on the login and account pages');
      } catch (err) {
        await screenshot(page, `account-${javaScript ? 'js' : 'nojs'}-FAILED`).catch(() => {});
        throw err;
      } finally {
        await context.close();
      }
    });
  }

  test('a wrong password keeps the email, never the password', { timeout: TEST_TIMEOUT_MS }, async () => {
    const { context, page, problems } = await openContext(browser, { javaScript: false });
    try {
      await page.goto(url('/login'));
      await page.locator('input[name="email"]').fill(demoCustomer.email);
      await page.locator('input[name="password"]').fill('not-the-password');
      await page.getByRole('button', { name: 'Log in' }).click();
      await page.waitForURL((u) => u.pathname === '/login');
      const flash = page.locator('.flash.error');
      await flash.waitFor();
      assert.match(await flash.innerText(), /email or password is wrong/i);
      assert.equal(await page.locator('input[name="email"]').inputValue(), demoCustomer.email, 'the email is kept');
      assert.equal(await page.locator('input[name="password"]').inputValue(), '', 'the password is not');
      assert.equal(await page.locator('input[name="password"]').getAttribute('autofocus'), '', 'the password has the focus');
      assert.doesNotMatch(await page.content(), /not-the-password/);
      await checkWidths(page, 'account-wrong-password');

      // Not logged in: the account page sends the browser to log in.
      await page.goto(url('/account'));
      assert.equal(new URL(page.url()).pathname, '/login');
      assertNoProblems(problems, 'after a wrong password');
    } catch (err) {
      await screenshot(page, 'account-wrong-password-FAILED').catch(() => {});
      throw err;
    } finally {
      await context.close();
    }
  });

  test("another role's page is a 403 with the site's header", { timeout: TEST_TIMEOUT_MS }, async () => {
    const { context, page, problems } = await openContext(browser);
    try {
      await logIn(page);
      const response = await page.goto(url('/admin'));
      assert.equal(response?.status(), 403);
      assert.match(await page.locator('h1').innerText(), /not allowed/i);
      const header = page.locator('header.top');
      assert.match(await header.innerText(), /My account/);
      assert.match(await header.innerText(), new RegExp(demoCustomer.name));
      await checkWidths(page, 'account-forbidden');
      assertNoProblems(problems, 'on the 403 page', (text) => text.includes('status of 403'));

      // Logging out from there works too.
      await page.getByRole('button', { name: 'Log out' }).click();
      await page.waitForURL((u) => u.pathname === '/login');
      assert.match(await mainText(page), /you have logged out/i);
    } catch (err) {
      await screenshot(page, 'account-forbidden-FAILED').catch(() => {});
      throw err;
    } finally {
      await context.close();
    }
  });
});
