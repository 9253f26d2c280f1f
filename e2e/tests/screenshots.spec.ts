// The README's screenshots (docs/screenshots/*.png), taken from a fresh lab:
// `make screenshots`, which sets SCREENSHOTS=1; skipped otherwise.
import { test, expect, type APIRequestContext } from '@playwright/test';
import path from 'node:path';
import { labReady, ping } from './helpers';

const out = (name: string) => path.resolve(__dirname, '..', '..', 'docs', 'screenshots', name);

test.skip(!process.env.SCREENSHOTS, 'screenshots are taken by `make screenshots` (SCREENSHOTS=1)');
test.describe.configure({ mode: 'serial' });

test.beforeAll(async ({ request }) => { await labReady(request); });
test.afterAll(async ({ request }) => {
  await request.post('/api/v1/lab/speed', { data: { factor: 1 } });
  await request.put('/api/v1/lab/links/lan%2Ftipy/impairment', { data: { spec: 'none' } });
});

test('overview with the welcome panel', async ({ page, request }) => {
  await page.goto('/');
  await ping(request, 3);
  await expect(page.locator('#intro')).toBeVisible();
  await expect.poll(async () => Number(await page.locator('#ov-frames').textContent())).toBeGreaterThan(10);
  await expect(page.locator('#topology g.node')).toHaveCount(4);
  await page.screenshot({ path: out('overview.png') });
});

// transfer sends n bytes from tipy to far's discard service (through gw)
// over a link that delays each frame, so that the round trip shows in the
// graphs, then closes the connection.
async function transfer(request: APIRequestContext, n: number) {
  const api = '/api/v1/hosts/tipy/sockets';
  const s = await (await request.post(api, { data: { type: 'stream' } })).json();
  const r = await request.post(`${api}/${s.id}/connect`, { data: { address: '10.0.5.10', port: 9 } });
  expect(r.status(), await r.text()).toBe(200);
  const chunk = Buffer.alloc(32 * 1024, 'tipy ').toString('base64');
  for (let sent = 0; sent < n;) {
    const w = await request.post(`${api}/${s.id}/send`, { data: { data: chunk, timeout_ms: 10_000 } });
    expect(w.status(), await w.text()).toBe(200);
    sent += (await w.json()).bytes;
  }
  await request.post(`${api}/${s.id}/shutdown`, { data: { how: 'SHUT_WR' } });
  await request.delete(`${api}/${s.id}`);
}

test('the TCP page after a transfer', async ({ page, request }) => {
  await request.put('/api/v1/lab/links/lan%2Ftipy/impairment', { data: { spec: 'delay=15ms' } });
  await page.goto('/tcp');
  await transfer(request, 1024 * 1024);
  const conn = page.locator('#tcp-conns button[data-host="tipy"][data-conn$="-10.0.5.10:9"]').last();
  await conn.click();
  await expect.poll(async () => Number(await page.locator('#graph-cwnd').getAttribute('data-points'))).toBeGreaterThan(10);
  await expect(page.locator('#tcp-diagram g.box.lit')).toHaveCount(1);
  await page.waitForTimeout(500); // the graphs draw on the next frame
  await page.screenshot({ path: out('tcp.png') });
});

test('an experiment card after a passed run', async ({ page, request }) => {
  const ids = ((await (await request.get('/api/v1/experiments')).json()).experiments as any[]).map((x) => x.id);
  const id = ids.includes('slow-start') ? 'slow-start' : 'arp-queue';
  await request.post('/api/v1/lab/speed', { data: { factor: 10 } });
  await page.goto(`/experiments#exp-${id}`);
  const card = page.locator(`#exp-${id}`);
  await card.locator('.exp-run').click();
  await expect(card.locator('.exp-status')).toHaveText('passed', { timeout: 60_000 });
  await expect(card.locator('.exp-proofs li.proof.passed').first()).toBeVisible();
  // The card without the "pointed at" outline the link gave it.
  await card.evaluate((el) => el.classList.remove('pointed'));
  await card.screenshot({ path: out('experiment.png') });
  await request.post('/api/v1/lab/speed', { data: { factor: 1 } });
});

test('the Frames page at the events of an experiment', async ({ page, request }) => {
  await request.post('/api/v1/lab/speed', { data: { factor: 10 } });
  const r = await request.post('/api/v1/experiments', { data: { id: 'arp-queue', wait: true } });
  expect(r.status(), await r.text()).toBe(201);
  await request.post('/api/v1/lab/speed', { data: { factor: 1 } });
  await page.goto('/experiments#exp-arp-queue');
  await page.locator('#exp-arp-queue a.look-link[data-page="frames"]').click();
  await expect(page.locator('#frame-list tr.hl').first()).toBeInViewport();
  // The frame of the ARP request this run sent (the row after the event
  // that proved it), its target address picked in the bytes.
  await page.setViewportSize({ width: 1280, height: 1000 });
  const sent = page.locator('#frame-list tr.hl.event-row', { hasText: 'sent ARP, Request who-has 192.168.2.20' });
  await sent.locator('xpath=following-sibling::tr[not(contains(@class, "event-row"))][1]').click();
  await expect(page.locator('#dissection')).toContainText('Request who-has 192.168.2.20');
  await page.locator('#hex .b[data-i="38"]').click();
  await expect(page.locator('#hex .hl')).toHaveCount(8);
  await page.evaluate(() => window.scrollTo(0, 0));
  await page.screenshot({ path: out('frames.png') });
});

