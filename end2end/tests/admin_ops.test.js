// The admin's webhooks and jobs pages in Chromium, with and without JavaScript: the endpoints
// and deliveries, the queue's counts and failures, at desktop width and on a 390 px phone, with
// no console or CSP errors.
//
// Page contract (server side):
//   /admin/webhooks  <h1>Webhooks</h1>, sections "Endpoints" and "Deliveries" (a GET filter form
//                    with merchant and status)
//   /admin/jobs      <h1>Jobs</h1>, sections "Queue" (counts by kind) and "Failures"

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { assertNoProblems, checkWidths, launchBrowser, logIn, mainText, openContext, url } from './helpers.js';

const TEST_TIMEOUT_MS = 90_000;

describe('the admin reads webhooks and jobs', () => {
  let browser;

  before(async () => {
    browser = await launchBrowser();
  });

  after(async () => {
    await browser?.close();
  });

  for (const javaScript of [true, false]) {
    const how = javaScript ? 'with JavaScript' : 'without JavaScript';
    const suffix = javaScript ? '' : '-nojs';
    test(`webhooks and jobs pages (${how})`, { timeout: TEST_TIMEOUT_MS }, async () => {
      const { context, page, problems } = await openContext(browser, { javaScript });
      try {
        await logIn(page, 'admin');
        await page.goto(url('/admin/webhooks'));
        assert.equal(await page.locator('h1').innerText(), 'Webhooks');
        const webhooks = await mainText(page);
        for (const words of ['Endpoints', 'Deliveries']) {
          assert.ok(webhooks.includes(words), `the webhooks page shows "${words}"`);
        }
        await checkWidths(page, `admin-webhooks${suffix}`);
        // The filter is a plain GET form.
        await page.getByRole('button', { name: 'Show' }).click();
        await page.waitForURL((u) => u.pathname === '/admin/webhooks' && u.search.includes('outcome='));

        await page.goto(url('/admin/jobs'));
        assert.equal(await page.locator('h1').innerText(), 'Jobs');
        const jobs = await mainText(page);
        for (const words of ['Queue', 'Failures', 'Waiting', 'Failed']) {
          assert.ok(jobs.includes(words), `the jobs page shows "${words}"`);
        }
        await checkWidths(page, `admin-jobs${suffix}`);
        assertNoProblems(problems, `on the admin's webhooks and jobs pages ${how}`);
      } finally {
        await context.close();
      }
    });
  }
});
