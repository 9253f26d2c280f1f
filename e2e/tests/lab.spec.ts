// The lab's time controls and link impairments, driven from the dashboard:
// paused, no event arrives; one step runs exactly one loop event; the speed
// and an impairment set in the page are what the API reports.
import { test, expect, type APIRequestContext, type Page } from '@playwright/test';
import { labReady, shot } from './helpers';

const lab = async (request: APIRequestContext) => (await (await request.get('/api/v1/lab')).json());
const pageEvents = async (page: Page) => Number(await page.locator('#ov-events').textContent());

// still polls read every 200 ms and passes once it has read the same value
// `samples` times in a row; once a value differs from the first one read it
// fails for good, so a counter that moves at all during the window fails.
async function expectStill(read: () => Promise<number>, samples = 6) {
  let first: number | undefined;
  let seen = 0;
  let moved = false;
  await expect.poll(async () => {
    const v = await read();
    if (first === undefined) first = v;
    if (v !== first) moved = true;
    seen++;
    return moved ? -1 : seen;
  }, { intervals: [200], timeout: 5_000 }).toBeGreaterThanOrEqual(samples);
  return first!;
}

// settled waits until the lab's executed count stops moving (a pause takes
// effect before the next event, so one in flight may still finish).
async function settled(request: APIRequestContext) {
  let prev = -1;
  await expect.poll(async () => {
    const v = (await lab(request)).executed;
    const same = v === prev;
    prev = v;
    return same;
  }, { intervals: [200] }).toBe(true);
  return prev;
}

test.afterEach(async ({ request }) => {
  // Leave the shared lab as the other tests expect it: running at 1×, unimpaired.
  await request.post('/api/v1/lab/resume');
  await request.post('/api/v1/lab/speed', { data: { factor: 1 } });
  for (const l of (await lab(request)).links) {
    await request.put(`/api/v1/lab/links/${encodeURIComponent(l.name)}/impairment`, { data: { spec: 'none' } });
  }
});

test('pause stops events, one step runs one loop event, speed reaches the API', async ({ page, request }, info) => {
  await labReady(request);
  await page.goto('/');
  await expect(page.locator('#labbar')).toBeVisible();
  await expect(page.locator('#lab-clock')).toHaveText(/^\d/);
  await expect(page.locator('#lab-step')).toBeDisabled();
  // Traffic that lasts: a ping left running while the test pauses the lab.
  const before = await pageEvents(page);
  const pinging = request.post('/api/v1/hosts/tipy/ping', { data: { address: '192.168.2.20', count: 40, interval_ms: 50 }, timeout: 60_000 });
  await expect.poll(() => pageEvents(page)).toBeGreaterThan(before);

  await page.click('#lab-pause');
  await expect(page.locator('#lab-pause')).toHaveAttribute('aria-pressed', 'true');
  await expect(page.locator('#lab-pause')).toHaveText('Resume');
  expect((await lab(request)).paused).toBe(true);
  const executed = await settled(request);
  // Paused: neither the loop nor the page's event counter moves.
  await expectStill(async () => (await lab(request)).executed);
  const shown = await expectStill(() => pageEvents(page));
  const now = (await lab(request)).now_ns;

  // One step, from the keyboard: exactly one more loop event, and the clock at it.
  await expect(page.locator('#lab-step')).toBeEnabled();
  await page.locator('#lab-step').focus();
  await page.keyboard.press('Enter');
  await expect.poll(async () => (await lab(request)).executed).toBe(executed + 1);
  await expectStill(async () => (await lab(request)).executed);
  expect((await lab(request)).now_ns).toBeGreaterThanOrEqual(now);
  await expect(page.locator('#lab-executed')).toHaveText(String(executed + 1));
  // That one loop event published its observer events (a frame crossing a
  // link, a timer firing...), and then the page stands still again.
  const afterStep = await expectStill(() => pageEvents(page));
  expect(afterStep).toBeGreaterThanOrEqual(shown);
  await shot(page, info, 'lab-paused');

  // Speed: each choice of the selector is what the API reports.
  for (const [label, factor] of [['0.5×', 0.5], ['10×', 10], ['as fast as possible', 0], ['1×', 1]] as const) {
    await page.selectOption('#lab-speed', { label });
    await expect.poll(async () => (await lab(request)).speed).toBe(factor);
  }

  await page.click('#lab-pause');
  await expect(page.locator('#lab-pause')).toHaveText('Pause');
  await expect(page.locator('#lab-step')).toBeDisabled();
  expect((await pinging).status()).toBe(200);
  await expect.poll(async () => (await lab(request)).executed).toBeGreaterThan(executed + 1);
});

test('an impairment set on the overview is the link\'s state; API errors are shown', async ({ page, request }, info) => {
  await labReady(request);
  await page.goto('/');
  await expect(page.locator('#imp-link option[value="lan/peer"]')).toHaveCount(1);
  await page.selectOption('#imp-link', 'lan/peer');
  await page.fill('#imp-spec', 'loss=5%,delay=10ms');
  await page.click('#imp-apply');
  const row = page.locator('#imp-links tr[data-link="lan/peer"]');
  await expect(row.locator('td').nth(1)).toContainText('loss=5%');
  await expect(row.locator('td').nth(2)).toContainText('delay=10ms');
  await expect(page.locator('#imp-error')).toHaveText('');
  await expect(page.locator('#topology text.imp')).toContainText('loss=5%');
  const link = (await lab(request)).links.find((l: any) => l.name === 'lan/peer');
  expect(link.in).toContain('loss=5%');
  expect(link.out).toContain('delay=10ms');

  // A bad spec: the API's own message, verbatim, and nothing changes.
  await page.fill('#imp-spec', 'loss=lots');
  await page.keyboard.press('Enter');
  const r = await request.put('/api/v1/lab/links/lan%2Fpeer/impairment', { data: { spec: 'loss=lots' } });
  expect(r.status()).toBe(400);
  await expect(page.locator('#imp-error')).toHaveText((await r.json()).error.message);
  expect((await lab(request)).links.find((l: any) => l.name === 'lan/peer').in).toContain('loss=5%');
  await shot(page, info, 'lab-impairment');

  // One direction only, then cleared.
  await page.selectOption('#imp-dir', 'in');
  await page.fill('#imp-spec', 'none');
  await page.click('#imp-apply');
  await expect(row.locator('td').nth(1)).toHaveText('none');
  await expect(row.locator('td').nth(2)).toContainText('delay=10ms');
});
