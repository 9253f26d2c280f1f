// The lab restarted from the same seed in the browser and driven the same
// way gives the same first 1,000 events; a paused lab sends nothing, and
// one step brings exactly one loop event.
import { test, expect, type Page, type APIRequestContext } from '@playwright/test';

/** restartFromBar restarts the lab paused with seed from the header's controls. */
async function restartFromBar(page: Page, seed: number): Promise<number> {
  await page.goto('/');
  await page.fill('#lab-seed', String(seed));
  await page.check('#lab-restart-paused');
  await Promise.all([page.waitForEvent('load'), page.click('#lab-restart')]);
  await expect(page.locator('#labbar')).toHaveClass(/paused/);
  await expect(page.locator('#status')).toContainText(`seed ${seed}`);
  const info = await page.evaluate(() => JSON.parse(sessionStorage.getItem('tipy.restart') || '{}'));
  expect(info.seed).toBe(seed);
  expect(info.first_seq).toBeGreaterThan(0);
  return info.first_seq;
}

/** stepUntilReady runs the paused lab one event at a time until every address is probed:
 * the first step from the header's button, the rest through the API (each brings exactly one loop event). */
async function stepUntilReady(page: Page, request: APIRequestContext) {
  const before = Number(await page.locator('#lab-executed').textContent());
  await page.click('#lab-step');
  await expect(page.locator('#lab-executed')).toHaveText(String(before + 1));
  for (let i = 0; i < 2000; i++) {
    const hosts = (await (await request.get('/api/v1/hosts')).json()).hosts as any[];
    if (hosts.every((h) => h.interfaces.every((f: any) => f.address_state === 'preferred'))) return;
    const was = (await (await request.get('/api/v1/lab')).json()).executed;
    const st = await (await request.post('/api/v1/lab/step')).json();
    expect(st.executed).toBe(was + 1);
  }
  throw new Error('addresses not ready');
}

/** drive makes the same calls, at the same (paused) instant, each time. */
async function drive(request: APIRequestContext) {
  const so = await (await request.post('/api/v1/hosts/tipy/sockets', { data: { type: 'dgram' } })).json();
  for (const [i, dst] of ['10.0.5.10', '192.168.2.20', '10.0.5.10'].entries()) {
    const r = await request.post(`/api/v1/hosts/tipy/sockets/${so.id}/sendto`, { data: { address: dst, port: 7, text: `hello ${i}` } });
    expect(r.status(), await r.text()).toBe(200);
  }
  const st = await (await request.post('/api/v1/hosts/tipy/sockets', { data: { type: 'stream' } })).json();
  await request.post(`/api/v1/hosts/tipy/sockets/${st.id}/settimeout`, { data: { timeout_ms: 0 } });
  const c = await request.post(`/api/v1/hosts/tipy/sockets/${st.id}/connect`, { data: { address: '10.0.5.10', port: 19 } });
  expect((await c.json()).error.code).toBe('EINPROGRESS');
}

/** firstEvents reads, in the page, the first n events of the new lab (samples aside: the stream coalesces them by pace). */
async function firstEvents(page: Page, since: number, n: number): Promise<string[]> {
  return page.evaluate(async ({ since, n }) => {
    const kinds = 'rx,tx,drop,state,timer,cache,route,error,impair,info';
    const ws = new WebSocket(`ws://${location.host}/api/v1/events?since=${since - 1}&kinds=${kinds}`);
    const out: string[] = [];
    return await new Promise<string[]>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`only ${out.length} events`)), 60_000);
      ws.onmessage = (m) => {
        for (const e of JSON.parse(m.data)) {
          if (e.kind === 'gap' || e.kind === 'reset') { reject(new Error('stream lost events')); return; }
          delete e.seq;
          out.push(JSON.stringify(e));
        }
        if (out.length >= n) { clearTimeout(timer); ws.close(); resolve(out.slice(0, n)); }
      };
      ws.onerror = () => reject(new Error('websocket error'));
    });
  }, { since, n });
}

async function session(page: Page, request: APIRequestContext, seed: number) {
  const since = await restartFromBar(page, seed);
  // Paused: nothing runs while we look.
  const t0 = (await (await request.get('/api/v1/lab')).json()).executed;
  await page.waitForTimeout(500);
  expect((await (await request.get('/api/v1/lab')).json()).executed).toBe(t0);
  await stepUntilReady(page, request);
  await drive(request);
  await request.post('/api/v1/lab/speed', { data: { factor: 0 } });
  const events = firstEvents(page, since, 1000);
  await page.click('#lab-pause'); // Resume
  return await events;
}

test('the same seed, restarted in the browser, gives the same first 1,000 events', async ({ page, request }) => {
  test.setTimeout(180_000);
  const a = await session(page, request, 11);
  const b = await session(page, request, 11);
  expect(a.length).toBe(1000);
  for (let i = 0; i < a.length; i++) expect(b[i], `event ${i}`).toBe(a[i]);
  const c = await session(page, request, 12);
  expect(c.some((e, i) => e !== a[i])).toBe(true);
  // Leave the lab as the other tests expect it: seed 7, running at 1×.
  const r = await request.post('/api/v1/lab/restart', { data: { seed: 7 } });
  expect(r.status()).toBe(202);
});
