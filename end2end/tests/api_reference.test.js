// The API reference at /docs/api: with JavaScript, the vendored Swagger UI renders
// /openapi.json from this server under the CSP (no console or CSP errors) and fits a phone;
// without JavaScript, the page still lists the endpoints by tag.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  assertNoProblems,
  checkWidths,
  launchBrowser,
  openContext,
  screenshot,
  url,
} from './helpers.js';

describe('API reference', () => {
  let browser;
  before(async () => {
    browser = await launchBrowser();
  });
  after(async () => {
    await browser?.close();
  });

  test('Swagger UI renders every dialect from /openapi.json', async () => {
    const { context, page, problems } = await openContext(browser);
    await page.goto(url('/docs/api'));
    // One operation block per documented route.
    await page.locator('.opblock').first().waitFor();
    const text = await page.locator('body').innerText();
    for (const tag of ['seed 000', 'seed 001', 'seed 002', 'seed 003', 'seed 004', 'Settle API']) {
      assert.ok(text.includes(tag), `the reference shows ${tag}`);
    }
    await screenshot(page, 'api-reference');
    await checkWidths(page, 'api-reference');
    assertNoProblems(problems, 'on the API reference');
    await context.close();
  });

  test('without JavaScript the endpoints are listed', async () => {
    const { context, page } = await openContext(browser, { javaScript: false });
    await page.goto(url('/docs/api'));
    const text = await page.locator('body').innerText();
    assert.ok(text.includes('/api/payments'), 'Settle API paths listed');
    assert.ok(text.includes('/openapi.json'), 'links the document');
    await context.close();
  });
});
