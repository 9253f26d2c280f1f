import { test, expect } from '@playwright/test';
import fs from 'node:fs';
import { labReady, ping, shot } from './helpers';

test('a recording made in the browser, downloaded and opened again plays back the same frames when stepped', async ({ page, request }, info) => {
  await labReady(request);
  await page.goto('/recordings');
  await page.click('#rec-start');
  await expect(page.locator('#rec-stop')).toBeEnabled();
  await ping(request, 2);
  await expect.poll(async () => Number(await page.locator('#rec-list tr .state:text("recording") >> xpath=../td[3]').textContent())).toBeGreaterThan(20);
  await page.click('#rec-stop');
  await expect(page.locator('#rec-status')).toContainText('stopped');
  const row = page.locator('#rec-list tbody tr').last();
  await expect(row.locator('.state')).toHaveText('stopped');

  const [download] = await Promise.all([page.waitForEvent('download'), row.locator('a.dl-trace').click()]);
  const file = info.outputPath('recording.jsonl');
  await download.saveAs(file);
  const lines = fs.readFileSync(file, 'utf8').trim().split('\n');
  expect(JSON.parse(lines[0]).format).toBe('tipy-trace');
  const events = lines.slice(1).map((l) => JSON.parse(l));
  const frames = events.filter((e) => e.layer === 'link' && e.frame && (e.kind === 'tx' || e.kind === 'rx')).map((e) => String(e.seq));
  expect(frames.length).toBeGreaterThanOrEqual(8);

  // Open the downloaded file again: the Frames page plays it back.
  await page.setInputFiles('#rep-file', file);
  await page.waitForURL(/\/frames\?replay=/);
  await expect(page.locator('#player')).toBeVisible();
  await expect(page.locator('#pl-pos')).toHaveText(`0 / ${events.length}`);
  await expect(page.locator('#frame-list tbody tr')).toHaveCount(0);

  // Step one event at a time: each frame event adds its row, in order.
  const seqs = page.locator('#frame-list tbody tr td:first-child');
  let rows = 0;
  for (let i = 0; i < events.length; i++) {
    await page.click('#pl-fwd');
    await expect(page.locator('#pl-pos')).toHaveText(`${i + 1} / ${events.length}`);
    const e = events[i];
    if (e.layer === 'link' && e.frame && (e.kind === 'tx' || e.kind === 'rx')) rows++;
    if (i % 10 === 0 || rows === frames.length) await expect(seqs).toHaveCount(rows);
  }
  await expect(seqs).toHaveText(frames);
  // A step back removes the last event again.
  await page.click('#pl-back');
  await expect(page.locator('#pl-pos')).toHaveText(`${events.length - 1} / ${events.length}`);
  // A replayed frame still dissects.
  await page.locator('#frame-list tbody tr', { has: page.locator('td:nth-child(7)', { hasText: /^ICMP$/ }) }).first().click();
  await expect(page.locator('#dissection [data-field="ipv4.ttl"]')).toHaveText('Time to Live: 64');
  await shot(page, info, 'replay');
});
