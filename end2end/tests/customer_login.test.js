// The demo customer logs in through /login and lands on their home page, /account.
//
// Page contract (server side):
//   GET /login   form with input[name="email"], input[name="password"], button[type="submit"] "Log in";
//                a plain HTML form POST, answered with a redirect (no JavaScript needed).
//   success  ->  /account, whose <h1> contains the customer's display name.
//   failure  ->  still /login, with a `.flash.error` element carrying a message.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { demoCustomer, launchBrowser, screenshot, url } from './helpers.js';

const TEST_TIMEOUT_MS = 60_000;
const STEP_TIMEOUT_MS = 15_000;

/** A fresh context + page; uncaught page errors are collected in `errors`. */
async function openPage(browser, contextOptions = {}) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 }, ...contextOptions });
  context.setDefaultTimeout(STEP_TIMEOUT_MS);
  context.setDefaultNavigationTimeout(STEP_TIMEOUT_MS);
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (err) => errors.push(err));
  return { context, page, errors };
}

/** Open /login, check the form is there, fill it in and submit it. */
async function submitLogin(page, { email, password }) {
  const response = await page.goto(url('/login'));
  assert.ok(response, 'no response for GET /login');
  assert.equal(response.status(), 200, `GET /login answered ${response.status()}`);

  const form = page.locator('form').filter({ has: page.locator('input[name="password"]') });
  await assert.doesNotReject(form.first().waitFor(), 'no login form on /login');
  const submit = form.first().locator('button[type="submit"]');
  assert.match((await submit.innerText()).trim(), /log in/i, 'submit button should read "Log in"');

  await form.first().locator('input[name="email"]').fill(email);
  await form.first().locator('input[name="password"]').fill(password);
  await submit.click();
  await page.waitForLoadState('load');
}

function pathOf(page) {
  return new URL(page.url()).pathname;
}

describe('customer login', () => {
  let browser;

  before(async () => {
    browser = await launchBrowser();
  });

  after(async () => {
    await browser?.close();
  });

  test('demo customer logs in and sees their home page', { timeout: TEST_TIMEOUT_MS }, async () => {
    const { context, page, errors } = await openPage(browser);
    try {
      await submitLogin(page, demoCustomer);
      await page.waitForURL((u) => u.pathname === '/account');
      assert.equal(pathOf(page), '/account');

      const h1 = page.locator('h1').first();
      await h1.waitFor();
      assert.match(await h1.innerText(), new RegExp(demoCustomer.name));
      await screenshot(page, 'customer-home');

      assert.deepEqual(errors.map(String), [], 'uncaught JavaScript errors on the page');
    } catch (err) {
      await screenshot(page, 'customer-home-FAILED').catch(() => {});
      throw err;
    } finally {
      await context.close();
    }
  });

  test('wrong password stays on /login with an error message', { timeout: TEST_TIMEOUT_MS }, async () => {
    const { context, page, errors } = await openPage(browser);
    try {
      await submitLogin(page, { email: demoCustomer.email, password: 'not-the-password' });

      const flash = page.locator('.flash.error').first();
      await flash.waitFor({ state: 'visible' });
      assert.equal(pathOf(page), '/login');
      assert.ok((await flash.innerText()).trim().length > 0, '.flash.error should carry a message');
      // The password must not survive into the re-rendered form.
      const password = page.locator('input[name="password"]').first();
      if (await password.count()) {
        assert.equal(await password.inputValue(), '', 'password field should be empty again');
      }
      await screenshot(page, 'login-failed');

      // Not logged in: the account page must not show the customer's name.
      await page.goto(url('/account'));
      const h1Text = (await page.locator('h1').allInnerTexts()).join(' ');
      assert.doesNotMatch(h1Text, new RegExp(demoCustomer.name), '/account shown without a login');

      assert.deepEqual(errors.map(String), [], 'uncaught JavaScript errors on the page');
    } catch (err) {
      await screenshot(page, 'login-failed-FAILED').catch(() => {});
      throw err;
    } finally {
      await context.close();
    }
  });

  test('login works with JavaScript disabled', { timeout: TEST_TIMEOUT_MS }, async () => {
    const { context, page } = await openPage(browser, { javaScriptEnabled: false });
    try {
      await submitLogin(page, demoCustomer);
      await page.waitForURL((u) => u.pathname === '/account');
      assert.equal(pathOf(page), '/account');

      const h1 = page.locator('h1').first();
      await h1.waitFor();
      assert.match(await h1.innerText(), new RegExp(demoCustomer.name));
      await screenshot(page, 'customer-home-nojs');
    } catch (err) {
      await screenshot(page, 'customer-home-nojs-FAILED').catch(() => {});
      throw err;
    } finally {
      await context.close();
    }
  });
});
