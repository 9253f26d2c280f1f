import { test, expect } from '@playwright/test';
import { labReady, ping, shot } from './helpers';

test('the overview explains itself and shows hosts, seed, clock and live counters', async ({ page, request }, info) => {
  await labReady(request);
  await page.goto('/');
  await expect(page.locator('#intro h1')).toHaveText('What you are looking at');
  await expect(page.locator('#hosts-table tr[data-host="tipy"] td').nth(2)).toHaveText('192.168.2.7/24');
  await expect(page.locator('#hosts-table tr[data-host="peer"]')).toBeVisible();
  await expect(page.locator('#ov-seed')).toHaveText('7');
  await expect(page.locator('#topology g.node[data-host="peer"]')).toContainText('192.168.2.20/24');
  await expect(page.locator('#status')).toContainText('live');
  const before = Number(await page.locator('#ov-frames').textContent());
  await ping(request, 1);
  await expect.poll(async () => Number(await page.locator('#ov-frames').textContent())).toBeGreaterThanOrEqual(before + 4);
  await expect(page.locator('#ov-clock')).toHaveText(/^\d+\.\d{6} s$/);
  await expect(page.locator('#ov-layers tbody tr').first()).toBeVisible();
  await shot(page, info, 'overview');
  // The explanation can be dismissed, and stays dismissed.
  await page.click('#intro-hide');
  await expect(page.locator('#intro')).toBeHidden();
  await page.reload();
  await expect(page.locator('#intro')).toBeHidden();
});

test('routes, interfaces and counters with drop reasons', async ({ page, request }, info) => {
  await labReady(request);
  // A datagram to a closed port: peer drops it with a reason.
  const s = await (await request.post('/api/v1/hosts/tipy/sockets', { data: { type: 'dgram' } })).json();
  expect((await request.post(`/api/v1/hosts/tipy/sockets/${s.id}/sendto`, { data: { text: 'x', address: '192.168.2.20', port: 5555 } })).status()).toBe(200);
  await page.goto('/network');
  const tipy = page.locator('.net-host[data-host="tipy"]');
  await expect(tipy.locator('table').nth(1)).toContainText('192.168.2.0/24');
  await expect(tipy.locator('table').nth(1)).toContainText('0.0.0.0/0');
  await expect(tipy.locator('table').first()).toContainText('eth0');
  await expect(page.locator('.net-host[data-host="peer"] table').nth(3)).toContainText('udp-no-socket');
  await shot(page, info, 'network');
});

test('the pages can be used from the keyboard', async ({ page, request }, info) => {
  await labReady(request);
  await ping(request, 1);
  await page.goto('/frames');
  const rows = page.locator('#frame-list tbody tr');
  await expect.poll(() => rows.count()).toBeGreaterThan(2);
  await rows.first().focus();
  await page.keyboard.press('Enter');
  await expect(rows.first()).toHaveAttribute('aria-selected', 'true');
  await page.keyboard.press('ArrowDown');
  await expect(rows.nth(1)).toHaveAttribute('aria-selected', 'true');
  await expect(page.locator('#dissection .field').first()).toBeVisible();
  // A field of the tree is reachable with Tab and lit with Enter.
  await page.locator('#dissection .field').first().focus();
  await page.keyboard.press('Enter');
  await expect.poll(() => page.locator('#hex .hx .hl').count()).toBeGreaterThan(0);
  await shot(page, info, 'keyboard');
});
