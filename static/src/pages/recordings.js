// recordings.js: record the live stream, stop, download the trace and the
// pcapng; open a trace file and play it back.

import { call, get } from '../api.js';
import { $, h } from '../util.js';

/** recordingsPage draws the Record and replay page. */
export function recordingsPage(store, data) {
  let current = null;
  const list = async () => {
    try {
      const r = await get('recordings');
      const recs = Array.isArray(r) ? r : (r?.recordings || []);
      $('rec-list').tBodies[0].replaceChildren(...recs.map((x) => h('tr', { 'data-id': x.id }, h('td', {}, x.id), h('td', { class: 'state' }, x.running ? 'recording' : 'stopped'),
        h('td', {}, x.events), h('td', {}, x.bytes),
        h('td', {}, h('a', { href: `/api/v1/recordings/${x.id}/trace`, download: `tipy-${x.id}.jsonl`, class: 'dl-trace' }, 'trace'), ' ',
          h('a', { href: `/api/v1/recordings/${x.id}/pcapng`, download: `tipy-${x.id}.pcapng`, class: 'dl-pcapng' }, 'pcapng')))));
      const running = recs.find((x) => x.running);
      current = running ? running.id : null;
      $('rec-start').disabled = !!current || !data.live;
      $('rec-stop').disabled = !current;
    } catch (err) { $('rec-status').textContent = err.message; }
  };
  $('rec-start').onclick = async () => {
    try { const r = await call('POST', 'recordings', {}); $('rec-status').textContent = `recording ${r.body.id}…`; } catch (err) { $('rec-status').textContent = err.message; }
    list();
  };
  $('rec-stop').onclick = async () => {
    try { const r = await call('POST', `recordings/${current}/stop`); $('rec-status').textContent = `recording ${r.body.id} stopped: ${r.body.events} events`; } catch (err) { $('rec-status').textContent = err.message; }
    list();
  };
  const replays = async () => {
    const r = await get('replays').catch(() => []);
    const reps = Array.isArray(r) ? r : (r?.replays || []);
    $('rep-list').replaceChildren(...reps.map((x) => h('li', {}, h('a', { href: `/frames?replay=${encodeURIComponent(x.id)}`, class: 'replay-link' }, `${x.name || x.id}: ${x.events} events, ${x.frames} frames`))));
  };
  $('rep-file').onchange = async (ev) => {
    const file = ev.target.files[0];
    if (!file) return;
    const res = await fetch(`/api/v1/replays?name=${encodeURIComponent(file.name)}`, { method: 'POST', body: file });
    const body = await res.json().catch(() => null);
    if (!res.ok) { $('rec-status').textContent = body?.error?.message || `HTTP ${res.status}`; return; }
    location.href = `/frames?replay=${encodeURIComponent(body.id)}`;
  };
  list();
  replays();
  setInterval(list, 1000);
}
