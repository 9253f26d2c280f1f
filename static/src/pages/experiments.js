// experiments.js: the lab's guided experiments, one card each, grouped by
// topic. A card runs its experiment through the API and follows it: the
// status and steps from GET /experiments/{id} (fetched again whenever the
// event stream carries one of the run's lab events, and polled while it
// runs), each proof ✓/✗ with a link to the event that proved it, and the
// pages to look at.

import { call, get } from '../api.js';
import { $, h } from '../util.js';

const POLL_MS = 400;

/** PAGE_PATHS maps an experiment pointer's page to the dashboard's path and name. */
export const PAGE_PATHS = {
  overview: ['/', 'Overview'], frames: ['/frames', 'Frames'], arp: ['/arp', 'ARP'], tcp: ['/tcp', 'TCP'],
  sockets: ['/sockets', 'Sockets'], routes: ['/network', 'Routes & counters'],
};

/** lookHref is the link of a pointer: its page with the host, the layers, the highlighted seqs and a note. */
export function lookHref(expID, look, seqs) {
  const [path] = PAGE_PATHS[look.page] || ['/'];
  const q = new URLSearchParams();
  if (look.host) q.set('host', look.host);
  if (look.layers) q.set('layers', look.layers);
  if (seqs?.length) q.set('highlight', seqs.join(','));
  q.set('from', expID);
  if (look.text) q.set('note', look.text);
  return `${path}?${q}`;
}

/** experimentsPage draws the Experiments page. */
export function experimentsPage(store, data) {
  if (data.mode !== 'lab') return;
  const cards = new Map(); // id -> {x, el, run, timer}
  // Every seq the event stream brought to this page, so that a card can
  // tell whether the events that proved its run reached the browser. The
  // stream merges the samples of one series within a message into the last
  // one (its "coalesced" count says how many it replaced): such a sample
  // covers the seqs of its message before it, for its host and layer.
  // When the lab makes events faster than the stream carries them (a bulk
  // transfer at 10×), the server skips some and says so with a gap event:
  // those seqs are known to be missed, and the Frames page fetches them.
  const inPage = new Set();
  const merged = []; // {from, to, host, layer}: samples merged into event `to`
  const gaps = [];   // {from, to}: seqs the stream skipped
  let lastSeq = 0;
  const reached = (p, seq) => {
    if (inPage.has(seq) || (p.kind === 'sample' &&
      merged.some((m) => m.from <= seq && seq < m.to && m.layer === p.layer && (!p.event_host || m.host === p.event_host)))) return 'true';
    return gaps.some((g) => g.from <= seq && seq <= g.to) ? 'gap' : 'false';
  };

  const load = async () => {
    let list;
    try {
      list = (await get('experiments')).experiments || [];
    } catch (err) {
      $('exp-error').textContent = err.message;
      return;
    }
    const topics = new Map();
    for (const x of list) {
      if (!topics.has(x.topic)) topics.set(x.topic, []);
      topics.get(x.topic).push(x);
    }
    $('exp-list').replaceChildren(...[...topics].map(([topic, xs]) => h('section', { class: 'exp-topic', 'data-topic': topic },
      h('h2', {}, topic), ...xs.map((x) => {
        const c = { x, el: card(x), run: x.last_run, timer: null };
        cards.set(x.id, c);
        draw(c);
        if (c.run?.status === 'running') follow(x.id);
        return c.el;
      }))));
    // #exp-ID (from the overview's welcome panel, or a bookmark) points at one card.
    const want = decodeURIComponent(location.hash.replace(/^#exp-/, ''));
    const target = cards.get(want);
    if (target) {
      target.el.classList.add('pointed');
      target.el.scrollIntoView({ block: 'start' });
    }
  };

  const card = (x) => h('article', { class: 'exp-card', id: `exp-${x.id}`, 'data-id': x.id, 'data-status': 'none' },
    h('header', {},
      h('h3', {}, x.title),
      h('span', { class: 'exp-status', role: 'status' }, 'not run yet'),
      h('button', { type: 'button', class: 'exp-run primary', onclick: () => start(x.id) }, 'Run')),
    h('p', { class: 'explain' }, x.explain),
    h('div', { class: 'exp-cols' },
      h('div', {}, h('h4', {}, 'Proof'), h('ul', { class: 'exp-proofs' }), h('p', { class: 'exp-all' })),
      h('div', {}, h('h4', {}, 'Steps'), h('ol', { class: 'exp-steps' }), h('p', { class: 'exp-err error' }))),
    h('h4', {}, 'Where to look'),
    h('ul', { class: 'exp-look' }));

  const draw = (c) => {
    const { x, el, run } = c;
    const status = run?.status || 'none';
    el.dataset.status = status;
    el.dataset.run = run ? String(run.run) : '';
    const st = el.querySelector('.exp-status');
    st.textContent = { none: 'not run yet', running: 'running…' }[status] || status;
    st.className = `exp-status ${status}`;
    const busy = [...cards.values()].some((o) => o.run?.status === 'running');
    for (const o of cards.values()) o.el.querySelector('.exp-run').disabled = busy;
    el.querySelector('.exp-steps').replaceChildren(...(run?.steps || []).map((s) => h('li', {}, s)));
    el.querySelector('.exp-err').textContent = run?.error || '';
    const results = run?.proofs || x.proof.map((p) => ({ ...p, seen: 0, passed: false }));
    const all = [];
    el.querySelector('.exp-proofs').replaceChildren(...results.map((p) => {
      const seqs = p.seqs || [];
      all.push(...seqs);
      const mark = p.passed ? '✓' : !run ? '○' : status === 'running' ? '…' : '✗';
      const state = p.passed ? 'passed' : !run ? 'none' : status === 'running' ? 'waiting' : 'failed';
      const got = seqs.map((s) => reached(p, s));
      const here = !got.length || got.includes('false') ? 'false' : got.includes('gap') ? 'gap' : 'true';
      return h('li', { class: `proof ${state}`, 'data-seqs': seqs.join(','), 'data-in-page': here },
        h('span', { class: 'mark', 'aria-label': state }, mark), ' ', p.text,
        seqs.length ? h('div', { class: 'proof-event' },
          h('a', { class: 'proof-link', href: lookHref(x.id, { page: 'frames', layers: p.layer, text: p.text }, seqs), title: 'open the Frames page at this event' },
            seqs.length > 1 ? `events ${seqs.map((s) => `#${s}`).join(' ')}` : `event #${seqs[0]}`),
          p.event ? h('span', { class: 'muted' }, ` ${p.event_host || ''}: ${p.event}`) : null,
          (p.count || 1) > 1 || p.seen > 1 ? h('span', { class: 'muted' }, ` (${p.seen} seen)`) : null,
          here === 'gap' ? h('span', { class: 'muted gap-note', title: 'the lab made events faster than the stream carries them; the Frames page fetches them' }, ' (not streamed to this page: too many events at once)') : null) : null);
    }));
    el.querySelector('.exp-all').replaceChildren(all.length && status !== 'running'
      ? h('a', { class: 'proofs-all', href: lookHref(x.id, { page: 'frames', text: `every event that proved ${x.title}` }, all) }, 'all proving events on the Frames page') : '');
    el.querySelector('.exp-look').replaceChildren(...x.look.map((l) => {
      const [, name] = PAGE_PATHS[l.page] || ['/', l.page];
      // After a run, the frames pointer also marks the proofs of its layers.
      let seqs = [];
      if (l.page === 'frames' && run && status !== 'running') {
        const layers = (l.layers || '').split(',').filter(Boolean);
        for (const p of results) if (!layers.length || layers.includes(p.layer)) seqs.push(...(p.seqs || []));
      }
      const what = [l.host, (l.layers || '').split(',').filter(Boolean).join(', ')].filter(Boolean).join(' · ');
      return h('li', {}, h('a', { class: 'look-link', href: lookHref(x.id, l, seqs), 'data-page': l.page }, what ? `${name} (${what})` : name), ': ', l.text);
    }));
  };

  const refresh = async (id) => {
    const c = cards.get(id);
    if (!c) return;
    try {
      const x = await get(`experiments/${encodeURIComponent(id)}`);
      c.run = x.last_run;
      draw(c);
    } catch (err) {
      c.el.querySelector('.exp-err').textContent = err.message;
    }
    return c.run;
  };

  // follow polls a running experiment until its run ends.
  const follow = (id) => {
    const c = cards.get(id);
    if (!c || c.timer) return;
    const tick = async () => {
      const run = await refresh(id);
      c.timer = run?.status === 'running' ? setTimeout(tick, POLL_MS) : null;
      if (!c.timer) for (const o of cards.values()) draw(o);
    };
    c.timer = setTimeout(tick, POLL_MS);
  };

  const start = async (id) => {
    const c = cards.get(id);
    c.el.querySelector('.exp-err').textContent = '';
    try {
      const r = await call('POST', 'experiments', { id });
      c.run = r.body;
      draw(c);
      follow(id);
    } catch (err) {
      c.el.querySelector('.exp-err').textContent = err.message;
      // Busy: the other run is shown as it goes.
      for (const o of cards.values()) if (o.run?.status === 'running') follow(o.x.id);
    }
  };

  // The event stream: remember every seq, and follow the lab's experiment
  // events ("experiment ... started", each step, "... finished") at once.
  const touched = new Set();
  store.subscribe(() => {
    const evs = store.events;
    let i = evs.length;
    while (i > 0 && evs[i - 1].seq > lastSeq) i--;
    const before = lastSeq; // the new events are one message of the stream
    for (; i < evs.length; i++) {
      const e = evs[i];
      lastSeq = e.seq;
      if (e.kind === 'gap') {
        gaps.push({ from: e.fields?.first_seq ?? e.seq, to: e.fields?.last_seq ?? e.seq });
        continue;
      }
      if (e.kind === 'reset') continue;
      inPage.add(e.seq);
      if (e.coalesced > 0) merged.push({ from: before + 1, to: e.seq, host: e.host, layer: e.layer });
      const id = e.layer === 'lab' ? e.fields?.experiment : undefined;
      if (id && cards.has(id)) touched.add(id);
    }
    if (inPage.size > 2_000_000) inPage.clear();
    if (merged.length > 50_000) merged.splice(0, merged.length - 25_000);
    if (gaps.length > 50_000) gaps.splice(0, gaps.length - 25_000);
    for (const id of touched) {
      refresh(id).then((run) => { if (run?.status === 'running') follow(id); });
    }
    touched.clear();
  });
  load();
}
