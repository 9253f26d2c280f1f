import { test, expect } from '@playwright/test';
import { labReady, ping, shot } from './helpers';

test('a ping shows its frames; a frame shows its dissection and field↔byte highlighting', async ({ page, request }, info) => {
  await labReady(request);
  await page.goto('/frames');
  await expect(page.locator('#status')).toContainText('live');
  await ping(request, 2);
  // The echo request and reply, sent and received on both hosts, appear in the list.
  const icmp = page.locator('#frame-list tbody tr', { has: page.locator('td:nth-child(7)', { hasText: /^ICMP$/ }) });
  await expect.poll(() => icmp.count()).toBeGreaterThanOrEqual(8);
  await expect(icmp.first().locator('td:nth-child(9)')).toContainText('echo');

  // Select a frame: its tree, bytes and path appear.
  const row = icmp.first();
  await row.click();
  await expect(row).toHaveClass(/sel/);
  const ttl = page.locator('#dissection [data-field="ipv4.ttl"]');
  await expect(ttl).toHaveText('Time to Live: 64');
  await expect(page.locator('#hex .hexline')).toHaveCount(7); // 98 bytes: 7 lines of 16
  await expect(page.locator('#frame-path li').first()).toBeVisible();
  await expect(page.locator('#frame-path')).toContainText('RFC');

  // Field → bytes: the TTL is byte 22 of the frame (14 Ethernet + 8), 0x40.
  await ttl.click();
  await expect(ttl).toHaveClass(/sel/);
  const lit = page.locator('#hex .hx .hl');
  await expect(lit).toHaveCount(1);
  await expect(lit).toHaveText('40');
  await expect(lit).toHaveAttribute('data-i', '22');
  // A wider field lights all its bytes: the IPv4 source address is 4 bytes.
  await page.locator('#dissection [data-field="ipv4.src"]').click();
  await expect(lit).toHaveCount(4);

  // Bytes → field: clicking the EtherType bytes (12–13) selects that field.
  await page.locator('#hex .hx [data-i="12"]').click();
  await expect(page.locator('#dissection .field.sel')).toHaveAttribute('data-field', /type/);
  await expect(lit).toHaveCount(2);
  await shot(page, info, 'frames');

  // Filters: only ARP frames, then only what host peer received.
  await page.selectOption('#fr-proto', 'ARP');
  await expect.poll(() => page.locator('#frame-list tbody tr').count()).toBeGreaterThan(0);
  for (const t of await page.locator('#frame-list tbody tr td:nth-child(7)').allTextContents()) expect(t).toBe('ARP');
  await page.selectOption('#fr-proto', '');
  await page.selectOption('#fr-host', 'peer');
  await page.selectOption('#fr-dir', 'rx');
  const cells = page.locator('#frame-list tbody tr td:nth-child(3)');
  await expect.poll(() => cells.count()).toBeGreaterThan(0);
  for (const t of await cells.allTextContents()) expect(t).toBe('peer');
  for (const t of await page.locator('#frame-list tbody tr td:nth-child(4)').allTextContents()) expect(t).toBe('rx');
  await page.selectOption('#fr-host', '');
  await page.selectOption('#fr-dir', '');

  // Pause keeps the list still and counts what arrives.
  await page.click('#fr-pause');
  const shown = await page.locator('#frame-list tbody tr').count();
  await ping(request, 1);
  await expect(page.locator('#fr-new')).toHaveText(/^[1-9]\d* new$/);
  expect(await page.locator('#frame-list tbody tr').count()).toBe(shown);
  await page.click('#fr-pause');
  await expect.poll(() => page.locator('#frame-list tbody tr').count()).toBeGreaterThan(shown);
});

test('the ARP page shows the resolved entry', async ({ page, request }, info) => {
  await labReady(request);
  await ping(request, 1);
  const peer = (await (await request.get('/api/v1/hosts')).json()).hosts.find((h: any) => h.name === 'peer');
  await page.goto('/arp');
  const entry = page.locator('.arp-host[data-host="tipy"] tr[data-ip="192.168.2.20"]');
  await expect(entry.locator('.mac')).toHaveText(peer.mac);
  await expect(entry.locator('.state')).toHaveText(/reachable|stale|delay|probe/);
  await shot(page, info, 'arp');
});
