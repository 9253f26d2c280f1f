// The Experiments page and the overview's welcome panel. Every experiment
// the server lists is run from its card in the browser (the list is read
// from GET /api/v1/experiments when this file loads, so new experiments are
// covered without touching this file): its card must say "passed", every
// proof must show ✓, the events that proved it must have reached the page
// through the event stream (or be among those the stream said it skipped),
// and its "all proving events" link must open the Frames page with exactly
// those rows highlighted.
import { test, expect, type APIRequestContext, type BrowserContext, type Page } from '@playwright/test';
import { execFileSync } from 'node:child_process';
import { labReady, shot } from './helpers';

// experimentIDs asks the running tipyweb (Playwright starts it before it
// loads the tests) for its experiments, synchronously: tests are declared
// while this file loads.
const base = `http://127.0.0.1:${process.env.TIPY_E2E_PORT}`;
function experimentIDs(): string[] {
  const url = `${base}/api/v1/experiments`;
  try {
    const out = execFileSync(process.execPath, ['-e', `fetch(${JSON.stringify(url)}).then((r) => r.text()).then((t) => process.stdout.write(t))`], { timeout: 15_000 });
    return (JSON.parse(String(out)).experiments as any[]).map((x) => x.id);
  } catch {
    return []; // the server is not up (playwright test --list): the test below says so
  }
}
const ids = experimentIDs();

const speed = (request: APIRequestContext, factor: number) => request.post('/api/v1/lab/speed', { data: { factor } });
const experiment = async (request: APIRequestContext, id: string) => (await (await request.get(`/api/v1/experiments/${id}`)).json());

test.beforeAll(async ({ request }) => {
  await labReady(request);
  expect((await speed(request, 10)).status()).toBe(200);
});

test.afterAll(async ({ request }) => {
  // Leave the shared lab as the other tests expect it.
  await speed(request, 1);
});

test('the welcome panel: shown on a first visit, dismissed for good, back from "Start here"; its button runs arp-queue', async ({ page, request }, info) => {
  await page.goto('/');
  const intro = page.locator('#intro');
  await expect(intro).toBeVisible();
  await expect(intro).toContainText('Four hosts on a virtual network');
  await expect(intro).toContainText('gw 192.168.2.1 routes');
  await expect(intro).toContainText('Step one event');
  await page.click('#intro-hide');
  await expect(intro).toBeHidden();
  await page.reload();
  await expect(intro).toBeHidden();
  // "Start here" from any page brings it back, and it stays back.
  await page.goto('/frames');
  await page.click('#start-here');
  await expect(page).toHaveURL(/\/$/);
  await expect(intro).toBeVisible();
  await page.reload();
  await expect(intro).toBeVisible();
  // Its button runs the first experiment and lands on its card.
  const before = (await experiment(request, 'arp-queue')).last_run?.run ?? 0;
  await page.click('#welcome-run');
  await expect(page).toHaveURL(/\/experiments#exp-arp-queue$/);
  const card = page.locator('#exp-arp-queue');
  await expect(card).toHaveClass(/pointed/);
  await expect(card).toBeInViewport();
  await expect(card.locator('.exp-status')).toHaveText('passed', { timeout: 60_000 });
  expect((await experiment(request, 'arp-queue')).last_run.run).toBeGreaterThan(before);
  await shot(page, info, 'welcome-run');
});

test('an experiment\'s pointers open pages that mark what they point at', async ({ page, request }) => {
  await page.goto('/experiments');
  const card = page.locator('#exp-arp-queue');
  if ((await experiment(request, 'arp-queue')).last_run?.status !== 'passed') {
    await card.locator('.exp-run').click();
    await expect(card.locator('.exp-status')).toHaveText('passed', { timeout: 60_000 });
  }
  // ARP page, host tipy: the banner says why, tipy's cache is marked.
  await card.locator('a.look-link[data-page="arp"]').click();
  await expect(page).toHaveURL(/\/arp\?host=tipy/);
  await expect(page.locator('#pointer-note')).toContainText('arp-queue');
  await expect(page.locator('.arp-host[data-host="tipy"]')).toHaveClass(/pointed/);
  await expect(page.locator('.arp-host[data-host="peer"]')).not.toHaveClass(/pointed/);
  // Frames page, layers arp and udp: the filter is on and the proofs of
  // those layers are the highlighted rows.
  await page.goBack();
  await card.locator('a.look-link[data-page="frames"]').click();
  await expect(page).toHaveURL(/\/frames\?.*layers=arp%2Cudp/);
  await expect(page.locator('#fr-pointer')).toContainText('layers arp, udp');
  const run = (await experiment(request, 'arp-queue')).last_run;
  for (const p of run.proofs) {
    for (const s of p.seqs) await expect(page.locator(`#frame-list tr.hl[data-seq="${s}"]`)).toHaveCount(1);
  }
  await expect(page.locator('#frame-list tr.hl').first()).toBeInViewport();
  // A highlighted row that is an event, not a frame, explains itself.
  await page.locator('#frame-list tr.hl.event-row').first().click();
  await expect(page.locator('#dissection .event-detail')).toContainText('queued');
});

// One page, opened once, runs them all: the Experiments page stays live (as
// a reader would keep it open), and each run's Frames link opens in a tab.
test.describe.serial('every experiment passes from its card', () => {
  let context: BrowserContext;
  let page: Page;
  test.beforeAll(async ({ browser }) => {
    context = await browser.newContext({ baseURL: base, viewport: { width: 1280, height: 800 } });
    page = await context.newPage();
    await page.goto('/experiments');
  });
  test.afterAll(async () => { await context?.close(); });

  test('the server lists experiments', async () => {
    expect(ids.length, 'GET /api/v1/experiments listed nothing when the tests were loaded').toBeGreaterThan(0);
    expect(ids).toContain('arp-queue');
    await expect(page.locator('#exp-list .exp-card')).toHaveCount(ids.length);
  });
  for (const id of ids) {
    test(id, async ({ request }) => {
      const card = page.locator(`#exp-${id}`);
      await card.scrollIntoViewIfNeeded();
      await expect(card.locator('.exp-run')).toBeEnabled();
      await card.locator('.exp-run').click();
      await expect(card.locator('.exp-status')).toHaveText(/^(passed|failed)$/, { timeout: 50_000 });
      const run = (await experiment(request, id)).last_run;
      expect(run.status, `${id} failed: ${run.error}\nsteps: ${run.steps.join('\n  ')}`).toBe('passed');
      await expect(card.locator('.exp-status')).toHaveText('passed');
      await expect(card.locator('.exp-steps li')).toHaveCount(run.steps.length);
      // Every proof ✓, and the events that proved it reached this page
      // through the event stream: each one arrived (a sample merged into a
      // later one of its series counts), or the stream said it skipped it
      // (a gap: the lab made events faster than the stream carries them,
      // as a bulk transfer at 10× does); then the Frames page below gets it.
      const proofs = card.locator('.exp-proofs li.proof');
      await expect(proofs).toHaveCount(run.proofs.length);
      await expect(card.locator('.exp-proofs li.proof.passed')).toHaveCount(run.proofs.length);
      const seqs: number[] = [];
      for (let i = 0; i < run.proofs.length; i++) {
        const p = run.proofs[i];
        expect(p.seqs?.length, `proof "${p.text}" has no seq`).toBeGreaterThan(0);
        seqs.push(...p.seqs);
        await expect(proofs.nth(i)).toHaveAttribute('data-seqs', p.seqs.join(','));
        await expect(proofs.nth(i), `the events of proof "${p.text}" (${p.seqs}) did not reach the page`).toHaveAttribute('data-in-page', /^(true|gap)$/);
        if (await proofs.nth(i).getAttribute('data-in-page') === 'gap') test.info().annotations.push({ type: 'skipped by the stream', description: `${p.text}: ${p.seqs}` });
      }
      // They open on the Frames page as highlighted rows, the first in view.
      const href = await card.locator('a.proofs-all').getAttribute('href');
      expect(href).toMatch(/^\/frames\?highlight=/);
      const frames = await context.newPage();
      try {
        await frames.goto(href!);
        for (const s of seqs) await expect(frames.locator(`#frame-list tr.hl[data-seq="${s}"]`), `proof event #${s}`).toHaveCount(1);
        await expect(frames.locator('#frame-list tr.hl').first()).toBeInViewport();
      } finally {
        await frames.close();
      }
    });
  }
});
