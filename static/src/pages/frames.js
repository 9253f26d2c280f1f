// frames.js: the frame list, the dissection tree, the hex/ASCII pane with
// field↔byte highlighting both ways, and the frame's path through the stack.
// An experiment's link opens it with ?highlight=SEQ,... (those rows marked,
// scrolled to and kept in view, fetched from the server when the page's
// window of the stream does not hold them; an event that is not a frame gets
// a row of its own) and ?layers=arp,udp (only frames of those layers).

import { get } from '../api.js';
import { pointerParams } from '../pointer.js';
import { $, h, fmtTime, b64bytes, hexbytes, throttleFrame } from '../util.js';

const MAX_ROWS = 1000;
const CONTEXT_ROWS = 100; // rows shown before the first highlighted one

/** frameLayers lists the layers a frame of a dissected protocol belongs to. */
export function frameLayers(protocol) {
  switch (protocol) {
    case 'ARP': return ['link', 'arp'];
    case 'ICMP': return ['link', 'ipv4', 'icmp'];
    case 'UDP': return ['link', 'ipv4', 'udp'];
    case 'TCP': return ['link', 'ipv4', 'tcp'];
    case 'IPv4': return ['link', 'ipv4', 'igmp'];
    default: return ['link'];
  }
}

/** framesPage draws the Frames page from the store. */
export function framesPage(store, data) {
  const body = $('frame-list').tBodies[0];
  const hostSel = $('fr-host');
  for (const n of data.hosts) hostSel.append(h('option', { value: n }, n));
  let paused = null;          // frame count when paused
  let shown = [];             // rows shown while paused
  let selected = 0;
  const ptr = pointerParams();
  let layers = ptr.layers;    // ?layers=: only frames of these layers
  let hl = new Set(ptr.highlight); // ?highlight=: rows marked and kept in view
  let pinned = hl.size > 0;   // the view stays on the highlighted rows instead of following new frames
  let userMoved = false;      // the user scrolled the list or picked a row: stop recentring it
  for (const ev of ['wheel', 'mousedown', 'keydown', 'touchstart']) $('fr-scroll').addEventListener(ev, () => { userMoved = true; }, { passive: true });
  const extra = new Map();    // highlighted events the store lacks (or that are not frames), by seq
  if (hl.size) fetchHighlighted(store, [...hl], extra).then(() => render());
  const chips = () => {
    const box = $('fr-pointer');
    if (!box) return;
    const kids = [];
    if (hl.size) kids.push(h('span', { class: 'chip hl' }, `highlighted ${[...hl].map((x) => `#${x}`).join(' ')} `,
      h('button', { type: 'button', id: 'fr-hl-clear', title: 'stop highlighting and follow new frames', onclick: () => { hl = new Set(); pinned = false; extra.clear(); chips(); render(); } }, '×')));
    if (layers.length) kids.push(h('span', { class: 'chip' }, `layers ${layers.join(', ')} `,
      h('button', { type: 'button', id: 'fr-layers-clear', title: 'show frames of every layer', onclick: () => { layers = []; chips(); render(); } }, '×')));
    box.replaceChildren(...kids);
  };
  chips();
  const layerMatch = (f) => !layers.length || layers.some((l) => frameLayers(store.summaries.get(f.seq)?.protocol).includes(l));
  const filt = () => ({ host: hostSel.value, proto: $('fr-proto').value, dir: $('fr-dir').value, text: $('fr-text').value.trim().toLowerCase() });
  const match = (f, q) => {
    if (q.host && f.host !== q.host) return false;
    if (q.dir && f.dir !== q.dir) return false;
    const s = store.summaries.get(f.seq);
    if (q.proto) {
      const p = s?.protocol || '';
      if (q.proto === 'IPv4' ? !/IP|ICMP|UDP|TCP/.test(p) : p !== q.proto) return false;
    }
    if (q.text) {
      const hay = `${f.summary} ${s ? `${s.source} ${s.destination} ${s.protocol} ${s.info}` : ''}`.toLowerCase();
      if (!hay.includes(q.text)) return false;
    }
    return true;
  };
  const row = (f) => {
    const cls = [f.seq === selected ? 'sel' : '', hl.has(f.seq) ? 'hl' : '', f.ev ? 'event-row' : ''].filter(Boolean).join(' ') || null;
    if (f.ev) {
      const e = f.ev;
      return h('tr', { 'data-seq': f.seq, tabindex: 0, class: cls, 'aria-selected': f.seq === selected ? 'true' : 'false', title: 'an event, not a frame: select it to read why' },
        h('td', {}, f.seq), h('td', {}, fmtTime(e.t_ns)), h('td', {}, e.host), h('td', { class: e.kind }, e.kind),
        h('td', {}, ''), h('td', {}, ''), h('td', {}, e.layer), h('td', {}, ''), h('td', { class: 'info' }, e.summary));
    }
    const s = store.summaries.get(f.seq) || {};
    return h('tr', { 'data-seq': f.seq, tabindex: 0, class: cls, 'aria-selected': f.seq === selected ? 'true' : 'false' },
      h('td', {}, f.seq), h('td', {}, fmtTime(f.t_ns)), h('td', {}, f.host), h('td', { class: f.dir }, f.dir),
      h('td', {}, s.source || ''), h('td', {}, s.destination || ''), h('td', {}, s.protocol || ''),
      h('td', {}, s.length || f.length), h('td', { class: 'info' }, s.info || f.summary));
  };
  const render = throttleFrame(() => {
    const q = filt();
    const keep = (f) => hl.has(f.seq) || (match(f, q) && layerMatch(f));
    let rows = paused === null ? store.state.frames.filter(keep) : shown.filter(keep);
    if (extra.size) {
      const have = new Set(rows.map((f) => f.seq));
      let added = false;
      for (const x of extra.values()) if (!have.has(x.seq) && (x.ev || !store.state.frames.some((f) => f.seq === x.seq))) { rows.push(x); added = true; }
      if (added) rows.sort((a, b) => a.seq - b.seq);
    }
    if (rows.length > MAX_ROWS) {
      const first = pinned ? rows.findIndex((f) => hl.has(f.seq)) : -1;
      const from = first < 0 ? rows.length - MAX_ROWS : Math.max(0, Math.min(first - CONTEXT_ROWS, rows.length - MAX_ROWS));
      rows = rows.slice(from, from + MAX_ROWS);
    }
    // Rebuilding the rows must not take the keyboard focus away from the list.
    const focused = document.activeElement?.closest?.('#frame-list tbody tr')?.dataset.seq;
    body.replaceChildren(...rows.map(row));
    if (focused) body.querySelector(`tr[data-seq="${focused}"]`)?.focus({ preventScroll: true });
    $('fr-count').textContent = `${rows.filter((f) => !f.ev).length} frames shown of ${store.state.frameCount}`;
    const nw = paused === null ? 0 : store.state.frameCount - paused;
    $('fr-new').hidden = paused === null;
    $('fr-new').textContent = `${nw} new`;
    if (pinned) {
      // Keep the first highlighted row in the middle of the list (rows
      // arrive around it) until the user scrolls or picks a row; show it.
      const tr = body.querySelector('tr.hl');
      if (tr && !userMoved) {
        const sc = $('fr-scroll');
        sc.scrollTop = Math.max(0, tr.offsetTop - sc.clientHeight / 2);
      }
      if (tr && !selected) select(tr, false);
    } else if (paused === null && store.keepAll) {
      const sc = $('fr-scroll');
      if (!selected) sc.scrollTop = sc.scrollHeight;
    }
  });
  store.subscribe(render);
  for (const id of ['fr-host', 'fr-proto', 'fr-dir', 'fr-text']) $(id).addEventListener('input', render);
  $('fr-pause').onclick = () => {
    if (paused === null) { paused = store.state.frameCount; shown = store.state.frames.slice(); }
    else paused = null;
    $('fr-pause').textContent = paused === null ? 'Pause' : 'Follow';
    $('fr-pause').setAttribute('aria-pressed', String(paused !== null));
    render();
  };
  const select = (tr, focus = true) => {
    if (!tr) return;
    selected = +tr.dataset.seq;
    for (const r of body.querySelectorAll('tr.sel')) { r.classList.remove('sel'); r.setAttribute('aria-selected', 'false'); }
    tr.classList.add('sel');
    tr.setAttribute('aria-selected', 'true');
    if (focus) tr.focus();
    const x = extra.get(selected);
    if (x?.ev) showEvent(x.ev);
    else showFrame(store, selected);
  };
  body.addEventListener('click', (ev) => select(ev.target.closest('tr')));
  body.addEventListener('keydown', (ev) => {
    const tr = (selected && body.querySelector(`tr[data-seq="${selected}"]`)) || ev.target.closest('tr');
    if (!tr) return;
    if (ev.key === 'Enter' || ev.key === ' ') { ev.preventDefault(); select(ev.target.closest('tr') || tr); return; }
    if (ev.key === 'ArrowDown') { ev.preventDefault(); select(tr.nextElementSibling || tr); }
    else if (ev.key === 'ArrowUp') { ev.preventDefault(); select(tr.previousElementSibling || tr); }
  });
  render();
}

// fetchHighlighted fetches the highlighted events from the server (which
// keeps the events that proved each experiment's last run) into extra:
// frames with their list columns, other events as rows of their own.
async function fetchHighlighted(store, seqs, extra) {
  let evs = {};
  try {
    evs = (await get(`/ui/events?seqs=${seqs.join(',')}`)).events || {};
  } catch { /* nothing kept: the rows come from the stream if at all */ }
  const frames = [];
  for (const e of Object.values(evs)) {
    if (e.has_frame && e.layer === 'link') {
      const m = /(\d+) bytes/.exec(e.summary || '');
      extra.set(e.seq, { seq: e.seq, t_ns: e.t_ns, host: e.host, dir: e.kind, length: m ? +m[1] : 0, summary: e.summary });
      frames.push(e.seq);
    } else {
      extra.set(e.seq, { seq: e.seq, t_ns: e.t_ns, host: e.host, ev: e });
    }
  }
  if (frames.length) {
    try {
      const r = await get(`/ui/frames?seqs=${frames.join(',')}`);
      for (const [k, v] of Object.entries(r.frames || {})) store.summaries.set(+k, v);
    } catch { /* the row keeps its link summary */ }
  }
}

// showEvent shows an event that is not a frame: what happened and why.
function showEvent(e) {
  $('dissection').replaceChildren(h('div', { class: 'event-detail' },
    h('p', {}, h('span', { class: 'tag' }, `#${e.seq} ${e.host} · ${e.layer} · ${e.kind}`), ' ', h('strong', {}, e.summary)),
    e.explain ? h('p', { class: 'why' }, e.explain) : null,
    e.rfc ? h('p', { class: 'rfc' }, e.rfc) : null,
    e.reason ? h('p', {}, `reason: ${e.reason}`) : null,
    e.fields && Object.keys(e.fields).length ? h('table', { class: 'data' }, h('tbody', {}, Object.entries(e.fields).map(([k, v]) => h('tr', {}, h('th', {}, k), h('td', {}, typeof v === 'object' ? JSON.stringify(v) : String(v)))))) : null,
    h('p', { class: 'muted' }, 'This row is an event, not a frame: a decision the stack made (no bytes on the wire).')));
  $('hex').replaceChildren();
  $('frame-path').replaceChildren();
}

async function showFrame(store, seq) {
  const tree = $('dissection');
  tree.replaceChildren(h('p', { class: 'muted' }, 'loading…'));
  let dis, bytes, path;
  const f = store.state.frames.find((x) => x.seq === seq);
  if (f?.frame) {
    dis = store.summaries.get(seq)?.dissection;
    bytes = b64bytes(f.frame);
    path = localPath(store, f);
  } else {
    try {
      const r = await get(`frames/${seq}`);
      dis = r.dissection; bytes = hexbytes(r.hex); path = r.path;
    } catch (err) {
      tree.replaceChildren(h('p', { class: 'error' }, err.message));
      $('hex').replaceChildren();
      $('frame-path').replaceChildren();
      return;
    }
  }
  drawFrame(dis, bytes, path || []);
}

// localPath finds, among the replayed events, the same frame on every host
// and the events each host published at the same instant while handling it.
function localPath(store, f) {
  const evs = store.events;
  const i = evs.findIndex((e) => e.seq === f.seq);
  const lo = Math.max(0, i - 256), hi = Math.min(evs.length, i + 256);
  const anchors = evs.slice(lo, hi).filter((e) => e.frame === f.frame);
  const out = new Map();
  for (const a of anchors) {
    const j = evs.indexOf(a);
    for (let k = j; k >= lo && evs[k].host === a.host && evs[k].t_ns === a.t_ns; k--) {
      if (k !== j && evs[k].frame) break;
      out.set(evs[k].seq, evs[k]);
    }
    for (let k = j + 1; k < hi && evs[k].host === a.host && evs[k].t_ns === a.t_ns && !evs[k].frame; k++) out.set(evs[k].seq, evs[k]);
  }
  return [...out.values()].sort((a, b) => a.seq - b.seq);
}

function drawFrame(dis, bytes, path) {
  const tree = $('dissection');
  const hex = $('hex');
  // Hex/ASCII pane: 16 bytes a line, one span per byte in both columns.
  const lines = [];
  for (let off = 0; off < bytes.length; off += 16) {
    const hx = [], as = [];
    for (let i = off; i < Math.min(off + 16, bytes.length); i++) {
      hx.push(h('span', { class: 'b', 'data-i': i }, bytes[i].toString(16).padStart(2, '0')), ' ');
      const c = bytes[i];
      as.push(h('span', { class: 'a', 'data-i': i }, c >= 32 && c < 127 ? String.fromCharCode(c) : '.'));
    }
    lines.push(h('div', { class: 'hexline' }, h('span', { class: 'off' }, off.toString(16).padStart(4, '0')), ' ', h('span', { class: 'hx' }, hx), ' ', h('span', { class: 'as' }, as)));
  }
  hex.replaceChildren(...lines);
  const nodes = [];
  const highlight = (off, len, node) => {
    for (const el of hex.querySelectorAll('.hl')) el.classList.remove('hl');
    for (const el of tree.querySelectorAll('.field.sel')) el.classList.remove('sel');
    if (node) node.classList.add('sel');
    for (let i = off; i < off + len; i++) for (const el of hex.querySelectorAll(`[data-i="${i}"]`)) el.classList.add('hl');
  };
  const build = (fld, depth) => {
    const label = h('span', { class: `field ${fld.severity || ''}`, tabindex: 0, role: 'treeitem', 'data-field': fld.name, 'data-off': fld.offset, 'data-len': fld.length,
      title: `${fld.name}: bytes ${fld.offset}–${fld.offset + fld.length - 1}${fld.mask ? `, bits 0x${fld.mask.toString(16)}` : ''}` }, fld.label);
    nodes.push({ fld, el: label, depth });
    label.addEventListener('click', () => highlight(fld.offset, fld.length, label));
    label.addEventListener('keydown', (ev) => { if (ev.key === 'Enter' || ev.key === ' ') { ev.preventDefault(); highlight(fld.offset, fld.length, label); } });
    if (!fld.children?.length) return h('li', {}, label);
    return h('li', {}, h('details', { open: depth < 1 }, h('summary', {}, label), h('ul', { role: 'group' }, fld.children.map((c) => build(c, depth + 1)))));
  };
  const top = (dis?.layers || []).map((l) => build(l, 0));
  const prob = dis?.problem ? h('p', { class: 'error' }, `dissection stopped in ${dis.problem.layer} at byte ${dis.problem.offset}: ${dis.problem.reason}`) : null;
  tree.replaceChildren(h('p', { class: 'muted' }, dis?.summary || ''), h('ul', { class: 'root' }, top), ...(prob ? [prob] : []));
  // Byte → field: the deepest field that covers the byte, opened and lit.
  hex.onclick = (ev) => {
    const i = ev.target.dataset?.i;
    if (i === undefined) return;
    const b = +i;
    let best = null;
    for (const n of nodes) if (n.fld.length > 0 && b >= n.fld.offset && b < n.fld.offset + n.fld.length && (!best || n.depth >= best.depth)) best = n;
    if (!best) return;
    for (let p = best.el.parentElement; p && p !== tree; p = p.parentElement) if (p.tagName === 'DETAILS') p.open = true;
    highlight(best.fld.offset, best.fld.length, best.el);
    best.el.scrollIntoView({ block: 'nearest' });
  };
  $('frame-path').replaceChildren(...path.map((e) => h('li', { class: `ev ${e.kind}` },
    h('span', { class: 'tag' }, `${e.host} · ${e.layer} · ${e.kind}`), ' ', e.summary,
    e.explain ? h('div', { class: 'why' }, e.explain) : null,
    e.rfc ? h('div', { class: 'rfc' }, e.rfc) : null)));
}
