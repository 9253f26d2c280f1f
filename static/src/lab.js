// lab.js: the lab's time controls in the header (pause, resume, one step,
// speed, restart from a seed) and the shared view of GET /api/v1/lab that the Overview's
// impairment form reads too. Shown only in lab mode (the template leaves
// the bar out otherwise).

import { call, get } from './api.js';
import { $ } from './util.js';

const POLL_MS = 400;
const listeners = new Set();
let last = null;

/** onLab calls fn with every lab state fetched (and the last one at once). */
export function onLab(fn) {
  listeners.add(fn);
  if (last) fn(last);
}

/** publishLab hands a fresh lab state (from any lab call) to every listener. */
export function publishLab(st) {
  last = st;
  for (const fn of listeners) fn(st);
}

/** refreshLab fetches the lab state once and publishes it. */
export async function refreshLab() {
  publishLab(await get('lab'));
}

/** startLabBar wires the header's controls and keeps them in step with the server. */
export function startLabBar() {
  const bar = $('labbar');
  if (!bar) return;
  const pause = $('lab-pause');
  const step = $('lab-step');
  const speed = $('lab-speed');
  const err = $('lab-error');
  const seed = $('lab-seed');
  const restart = $('lab-restart');
  // Errors come from the API verbatim; a successful call clears them.
  const run = async (method, path, body) => {
    try {
      const r = await call(method, path, body);
      err.textContent = '';
      publishLab(r.body);
    } catch (e) {
      err.textContent = e.message;
    }
  };
  onLab((st) => {
    $('lab-clock').textContent = st.now;
    $('lab-executed').textContent = String(st.executed ?? 0);
    pause.textContent = st.paused ? 'Resume' : 'Pause';
    pause.setAttribute('aria-pressed', st.paused ? 'true' : 'false');
    step.disabled = !st.paused;
    bar.classList.toggle('paused', st.paused);
    if (document.activeElement !== seed && seed.dataset.edited !== 'true') seed.value = String(st.seed);
    // Leave the select alone while the user is choosing.
    if (document.activeElement !== speed) {
      const v = String(st.speed);
      if ([...speed.options].some((o) => o.value === v)) speed.value = v;
    }
  });
  pause.onclick = () => run('POST', pause.getAttribute('aria-pressed') === 'true' ? 'lab/resume' : 'lab/pause');
  step.onclick = () => run('POST', 'lab/step');
  speed.onchange = () => run('POST', 'lab/speed', { factor: Number(speed.value) });
  seed.oninput = () => { seed.dataset.edited = 'true'; };
  // A restart replaces the server's hosts and ends this page's event
  // stream: the page reloads onto the new lab. first_seq (where the new
  // lab's events start) is kept for the page and for tests.
  restart.onclick = async () => {
    const n = Number(seed.value);
    if (!Number.isInteger(n) || n < 0) {
      err.textContent = 'the seed is a whole number, 0 or more';
      return;
    }
    try {
      const r = await call('POST', 'lab/restart', { seed: n, paused: $('lab-restart-paused').checked });
      sessionStorage.setItem('tipy.restart', JSON.stringify(r.body));
      location.reload();
    } catch (e) {
      err.textContent = e.message;
    }
  };
  const tick = () => refreshLab().catch((e) => { err.textContent = e.message; }).finally(() => setTimeout(tick, POLL_MS));
  tick();
}
