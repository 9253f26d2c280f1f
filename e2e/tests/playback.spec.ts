import { test, expect } from '@playwright/test';
import { labReady, shot } from './helpers';

test('playback: jump to the next retransmission, step back, play at 10×, seek', async ({ page, request }, info) => {
  await labReady(request);
  const api = async (method: string, path: string, data?: any) => {
    const r = await request.fetch(`/api/v1/${path}`, { method, data });
    expect(r.ok(), `${method} ${path}: ${await r.text()}`).toBe(true);
    return r.json();
  };
  const rec = await api('POST', 'recordings', {});
  const s = await api('POST', 'hosts/tipy/sockets', { type: 'stream' });
  await api('POST', `hosts/tipy/sockets/${s.id}/connect`, { address: '192.168.2.20', port: 9 });
  // Lose half of what tipy sends, and send until TCP has had to retransmit.
  await api('PUT', 'lab/links/tipy/impairment', { direction: 'in', loss: 0.5 });
  await expect.poll(async () => {
    await api('POST', `hosts/tipy/sockets/${s.id}/send`, { text: 'x'.repeat(1000) });
    return (await api('GET', 'hosts/tipy/tcp')).connections.find((c: any) => c.socket_id === s.id)?.retransmissions ?? 0;
  }, { timeout: 30_000 }).toBeGreaterThan(0);
  await api('PUT', 'lab/links/tipy/impairment', { spec: 'none' });
  await api('POST', `recordings/${rec.id}/stop`);
  const trace = await (await request.get(`/api/v1/recordings/${rec.id}/trace`)).body();
  const rep = await (await request.post('/api/v1/replays?name=retransmit.jsonl', { data: trace })).json();
  expect(rep.events).toBeGreaterThan(20);

  await page.goto(`/tcp?replay=${rep.id}`);
  await expect(page.locator('#pl-pos')).toHaveText(`0 / ${rep.events}`);
  await page.click('#pl-retx');
  await expect(page.locator('#pl-event')).toContainText('retransmi');
  const at = Number((await page.locator('#pl-pos').textContent())!.split(' / ')[0]);
  expect(at).toBeGreaterThan(1);
  await page.click('#pl-back');
  await expect(page.locator('#pl-pos')).toHaveText(`${at - 1} / ${rep.events}`);
  await page.click('#pl-fwd');
  await expect(page.locator('#pl-pos')).toHaveText(`${at} / ${rep.events}`);
  // The connection's graph now carries the retransmission mark.
  await page.locator('#tcp-conns button[data-host="tipy"]').first().click();
  await expect(page.locator('#graph-cwnd')).toHaveAttribute('data-marks', /retransmission/);

  // Play at 10×: the cursor moves on its own; pause stops it.
  await page.selectOption('#pl-speed', '10');
  await page.click('#pl-play');
  await expect.poll(async () => Number((await page.locator('#pl-pos').textContent())!.split(' / ')[0])).toBeGreaterThan(at + 3);
  await page.click('#pl-play');
  await expect(page.locator('#pl-play')).toHaveText('play');
  // Paused, the cursor stays; a step (back: playing may have reached the end) moves it by one.
  const stopped = await page.locator('#pl-pos').textContent();
  await page.waitForTimeout(300);
  await expect(page.locator('#pl-pos')).toHaveText(stopped!);
  const [pos, total] = stopped!.split(' / ').map(Number);
  await page.click('#pl-back');
  await expect(page.locator('#pl-pos')).toHaveText(`${pos - 1} / ${total}`);

  // Seek to the end and back to the start.
  await page.locator('#pl-seek').fill(String(rep.events));
  await expect(page.locator('#pl-pos')).toHaveText(`${rep.events} / ${rep.events}`);
  await expect(page.locator('#tcp-current')).toHaveText(/ESTABLISHED|CLOSE|FIN|TIME/);
  await shot(page, info, 'playback-tcp');
  await page.locator('#pl-seek').fill('0');
  await expect(page.locator('#pl-pos')).toHaveText(`0 / ${rep.events}`);
});
