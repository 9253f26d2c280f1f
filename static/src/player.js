// player.js: the replay source. It loads an uploaded trace's events, feeds
// the same store the live stream does, and drives its cursor from the
// playback bar: play, pause, step ±1, speed, seek, next retransmission/drop.

import { get, call } from './api.js';
import { $ } from './util.js';

/** isRetransmission tells whether an event is a TCP retransmission. */
export const isRetransmission = (e) => e.layer === 'tcp' && e.kind === 'tx' && /retransmi/i.test(`${e.summary} ${e.fields?.analysis || ''}`);

/** startReplay loads replay id into the store and wires the playback bar. */
export async function startReplay(store, id, onStatus) {
  const info = await get(`replays/${encodeURIComponent(id)}`);
  const evs = [];
  for (let off = 0; ; ) {
    const page = await get(`replays/${encodeURIComponent(id)}/events?offset=${off}&limit=10000`);
    evs.push(...page.events);
    off += page.events.length;
    if (page.events.length === 0 || off >= page.total) break;
  }
  store.keepAll = true;
  store.load(evs);
  await dissectAll(store, evs);
  const bar = $('player');
  bar.hidden = false;
  $('player-name').textContent = `replay ${info.name || info.id}`;
  const seek = $('pl-seek');
  seek.max = String(evs.length);
  let timer = null;
  let speed = 1;
  const show = () => {
    seek.value = String(store.pos);
    $('pl-pos').textContent = `${store.pos} / ${evs.length}`;
    const e = store.events[store.pos - 1];
    $('pl-event').textContent = e ? `#${e.seq} ${e.host} ${e.layer} ${e.kind}: ${e.summary}` : 'at the start';
    $('pl-play').textContent = timer ? 'pause' : 'play';
    onStatus(`replay · ${store.pos}/${evs.length}`);
  };
  store.subscribe(show);
  const stop = () => { clearTimeout(timer); timer = null; show(); };
  const tick = () => {
    if (store.pos >= evs.length) { stop(); return; }
    const prev = store.events[store.pos - 1];
    store.seek(store.pos + 1);
    const next = store.events[store.pos];
    if (!next) { stop(); return; }
    const dtMs = prev ? Math.max(0, (next.t_ns - prev.t_ns) / 1e6) : 0;
    timer = setTimeout(tick, Math.min(Math.max(dtMs, 20), 1000) / speed);
  };
  const play = () => { if (timer) stop(); else { timer = setTimeout(tick, 0); show(); } };
  const jump = (pred) => {
    for (let i = store.pos; i < evs.length; i++) if (pred(evs[i])) { store.seek(i + 1); return; }
    $('pl-event').textContent = 'none further';
  };
  $('pl-play').onclick = play;
  $('pl-fwd').onclick = () => { stop(); store.seek(store.pos + 1); };
  $('pl-back').onclick = () => { stop(); store.seek(store.pos - 1); };
  $('pl-speed').onchange = (ev) => { speed = +ev.target.value; };
  seek.oninput = () => { const v = +seek.value; stop(); store.seek(v); };
  $('pl-retx').onclick = () => { stop(); jump(isRetransmission); };
  $('pl-drop').onclick = () => { stop(); jump((e) => e.kind === 'drop'); };
  document.addEventListener('keydown', (ev) => {
    if (ev.target.closest?.('input, select, textarea')) return;
    if (ev.key === ',') $('pl-back').click();
    else if (ev.key === '.') $('pl-fwd').click();
    else if (ev.key === ' ' && ev.target === document.body) { ev.preventDefault(); play(); }
  });
  show();
}

async function dissectAll(store, evs) {
  const frames = evs.filter((e) => e.frame && e.layer === 'link');
  for (let i = 0; i < frames.length; i += 100) {
    const part = frames.slice(i, i + 100);
    const r = await call('POST', '/ui/dissect', { frames: part.map((e) => e.frame) });
    r.body.frames.forEach((s, j) => store.summaries.set(part[j].seq, s));
  }
}
