// Shared steps of the dashboard tests: waiting for the lab to be ready and
// driving the API directly where a test needs a known starting point.
import { expect, type APIRequestContext, type Page, type TestInfo } from '@playwright/test';

/** labReady waits until host tipy's address has passed its conflict probe (RFC 5227). */
export async function labReady(request: APIRequestContext) {
  await expect.poll(async () => {
    const r = await request.get('/api/v1/hosts');
    const hosts = (await r.json()).hosts as any[];
    return hosts.every((h) => (h.interfaces || []).every((i: any) => i.address_state !== 'tentative'));
  }, { timeout: 30_000 }).toBe(true);
}

/** ping sends count echo requests from tipy to peer through the API. */
export async function ping(request: APIRequestContext, count = 1) {
  const r = await request.post('/api/v1/hosts/tipy/ping', { data: { address: '192.168.2.20', count, interval_ms: 10 } });
  expect(r.status(), await r.text()).toBe(200);
  const body = await r.json();
  expect(body.received).toBe(count);
  return body;
}

/** shot saves a screenshot of the page as an artifact of the test (test-results/). */
export async function shot(page: Page, info: TestInfo, name: string) {
  const path = info.outputPath(`${name}.png`);
  await page.screenshot({ path, fullPage: true });
}

/** consoleRun fills the sockets console and runs one operation; it returns the new log entry. */
export async function consoleRun(page: Page, op: string, fields: Record<string, string> = {}) {
  const before = await page.locator('#cs-log > li').count();
  await page.selectOption('#cs-op', op);
  for (const [id, v] of Object.entries(fields)) {
    if (id === 'cs-type' || id === 'cs-host' || id === 'cs-how') await page.selectOption(`#${id}`, v);
    else await page.fill(`#${id}`, v);
  }
  await page.click('#cs-run');
  await expect(page.locator('#cs-log > li')).toHaveCount(before + 1);
  const item = page.locator('#cs-log > li').first();
  await expect(item).not.toHaveClass('pending');
  return item;
}
