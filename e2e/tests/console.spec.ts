import { test, expect } from '@playwright/test';
import { labReady, consoleRun, shot } from './helpers';

test('a TCP connection opened from the console is ESTABLISHED on the TCP page with cwnd points', async ({ page, request }, info) => {
  await labReady(request);
  await page.goto('/sockets');
  await page.selectOption('#cs-host', 'tipy');
  const created = await consoleRun(page, 'create', { 'cs-type': 'stream' });
  await expect(created).toHaveClass('ok');
  const id = await page.inputValue('#cs-id');
  expect(id).toMatch(/^\d+$/);
  const connected = await consoleRun(page, 'connect', { 'cs-addr': '192.168.2.20', 'cs-port': '7' });
  await expect(connected.locator('.res')).toContainText('"state":"ESTABLISHED"');
  const local = JSON.parse((await connected.locator('.res').textContent())!.replace(/^\d+ /, '')).local;
  const sent = await consoleRun(page, 'send', { 'cs-text': 'hello tipy' });
  await expect(sent.locator('.res')).toHaveText('200 {"bytes":10}');
  const got = await consoleRun(page, 'recv', { 'cs-num': '2000' });
  await expect(got.locator('.res')).toContainText('"text":"hello tipy"');
  await shot(page, info, 'sockets');

  const conn = `${local}-192.168.2.20:7`;
  await page.goto(`/tcp?conn=${encodeURIComponent(`${conn}@tipy`)}`);
  await expect(page.locator(`#tcp-conns button[data-conn="${conn}"][data-host="tipy"]`)).toBeVisible();
  await expect(page.locator('#tcp-current')).toHaveText('ESTABLISHED');
  await expect(page.locator('#tcp-diagram g.box.lit')).toHaveAttribute('data-state', 'ESTABLISHED');
  await expect(page.locator('#tcp-trail li')).toHaveCount(2); // CLOSED → SYN-SENT → ESTABLISHED
  await expect(page.locator('#graph-cwnd')).toHaveAttribute('data-points', /^[1-9]\d*$/);
  await expect(page.locator('#graph-cwnd canvas')).toBeVisible();
  await expect(page.locator('#stevens .seg').first()).toBeAttached();
  await expect(page.locator('#ladder .seg').first()).toBeAttached();
  await shot(page, info, 'tcp');
});

test('a bad request in the console shows the API error message', async ({ page, request }, info) => {
  await labReady(request);
  // What the API itself answers to a connect to a malformed address.
  const sock = await (await request.post('/api/v1/hosts/tipy/sockets', { data: { type: 'stream' } })).json();
  const direct = await request.post(`/api/v1/hosts/tipy/sockets/${sock.id}/connect`, { data: { address: '1.2.3', port: 7 } });
  expect(direct.status()).toBe(400);
  const { error } = await direct.json();

  await page.goto('/sockets');
  await page.selectOption('#cs-host', 'tipy');
  await page.fill('#cs-id', String(sock.id));
  const item = await consoleRun(page, 'connect', { 'cs-addr': '1.2.3', 'cs-port': '7' });
  await expect(item).toHaveClass('err');
  await expect(item.locator('.res')).toHaveText(`400 ${error.code}: ${error.message}`);
  // An unknown socket: 404 with the API's words.
  await page.fill('#cs-id', '99999');
  const missing = await consoleRun(page, 'send', { 'cs-text': 'x' });
  await expect(missing.locator('.res')).toContainText('404 not_found:');
  await shot(page, info, 'console-error');
});
