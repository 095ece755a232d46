// The admin dashboard renders its charts: the admin logs in, lands on /admin, switches periods
// with plain links, and sees inline SVG charts (visible, with bars) and the tables behind them,
// at desktop width and on a 390 px phone, without CSP errors, with and without JavaScript.
//
// Page contract (server side):
//   /admin        nav.period-switch links ?period=today|7d|30d (aria-current on the current one),
//                 dl.dash-cards, figure.chart > svg[role=img] with a <title>, #table-per-bucket,
//                 #table-states, #table-gateways.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { assertNoProblems, checkWidths, launchBrowser, logIn, openContext, screenshot, url } from './helpers.js';

const TEST_TIMEOUT_MS = 90_000;

describe('admin dashboard', () => {
  let browser;

  before(async () => {
    browser = await launchBrowser();
  });

  after(async () => {
    await browser?.close();
  });

  for (const javaScript of [true, false]) {
    const how = javaScript ? 'with JavaScript' : 'without JavaScript';
    test(`the dashboard draws its charts (${how})`, { timeout: TEST_TIMEOUT_MS }, async () => {
      const { context, page, problems } = await openContext(browser, { javaScript });
      const suffix = javaScript ? '' : '-nojs';
      try {
        await logIn(page, 'admin');
        // The period switch is plain links.
        await page.locator('nav.period-switch').getByRole('link', { name: '30 days' }).click();
        await page.waitForURL((u) => u.search === '?period=30d');
        assert.equal(
          await page.locator('nav.period-switch a[aria-current="page"]').innerText(),
          '30 days',
        );

        const chart = page.locator('figure.chart svg[role="img"]').first();
        await chart.waitFor({ state: 'visible' });
        const box = await chart.boundingBox();
        assert.ok(box && box.width > 200 && box.height > 80, `the chart has a size: ${JSON.stringify(box)}`);
        assert.match(await chart.locator('title').textContent(), /Payments per day, 30 days/);
        const bars = await chart.locator('rect').count();
        assert.ok(bars > 20, `the payments chart draws bars (${bars} rects)`);
        const volumeCharts = await page.locator('figure.chart svg[id^="chart-volume-"]').count();
        assert.ok(volumeCharts >= 2, `a volume chart per currency (${volumeCharts})`);

        const total = Number(await page.locator('[data-stat="total"]').innerText());
        assert.ok(total >= 300, `a month of history: ${total} payments`);
        assert.ok((await page.locator('#table-states tbody tr').count()) >= 8, 'a row per state');
        assert.ok((await page.locator('#table-gateways tbody tr').count()) >= 8, 'a row per gateway');
        assert.ok((await page.locator('#table-per-bucket tbody tr').count()) >= 30, 'a row per day');

        await checkWidths(page, `admin-dashboard-30d${suffix}`);
        // On a phone the chart scales to the width instead of overflowing.
        await page.setViewportSize({ width: 390, height: 844 });
        await page.waitForTimeout(150);
        const phone = await chart.boundingBox();
        assert.ok(phone && phone.width <= 390 && phone.width > 250, `the chart fits the phone: ${JSON.stringify(phone)}`);
        await page.setViewportSize({ width: 1280, height: 900 });

        await page.goto(url('/admin?period=today'));
        assert.match(await page.locator('#chart-payments title').textContent(), /per hour, today/);
        await checkWidths(page, `admin-dashboard-today${suffix}`);
        assertNoProblems(problems, 'on the dashboard');
      } catch (err) {
        await screenshot(page, `admin-dashboard${suffix}-FAILED`).catch(() => {});
        throw err;
      } finally {
        await context.close();
      }
    });
  }
});
