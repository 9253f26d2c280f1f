// overview.js: hosts and links, live counters, the seed and the clock, and
// the first-visit welcome panel (dismissed for good in localStorage; the
// header's "Start here" link, /?welcome=1, brings it back).

import { call, get } from '../api.js';
import { onLab, publishLab } from '../lab.js';
import { $, h, svg, fmtTime, throttleFrame } from '../util.js';

/** overviewPage draws the Overview page. */
export function overviewPage(store) {
  welcome();
  get('hosts').then((r) => {
    $('hosts-table').tBodies[0].replaceChildren(...(r.hosts || []).map((x) => h('tr', { 'data-host': x.name },
      h('td', {}, x.name), h('td', {}, x.mac), h('td', {}, (x.addresses || []).join(', ')), h('td', {}, x.gateway || ''), h('td', {}, x.mtu), h('td', {}, x.link))));
    const hosts = r.hosts || [];
    if ($('imp-form')) {
      // In the lab, the drawing follows each impairment as it is set.
      let drawn = '';
      onLab((lab) => {
        const key = JSON.stringify((lab.links || []).map((l) => [l.name, l.in, l.out]));
        if (key !== drawn) { drawn = key; drawTopology(hosts, lab.links || []); }
      });
      return null;
    }
    return get('lab').catch(() => ({ links: [] })).then((lab) => drawTopology(hosts, lab.links || []));
  }).catch((err) => $('hosts-table').tBodies[0].replaceChildren(h('tr', {}, h('td', { colspan: 6, class: 'error' }, err.message))));
  const draw = throttleFrame(() => {
    const st = store.state;
    $('ov-clock').textContent = `${fmtTime(st.t_ns)} s`;
    $('ov-events').textContent = String(st.count);
    $('ov-frames').textContent = String(st.frameCount);
    $('ov-drops').textContent = String(st.dropCount);
    $('ov-layers').tBodies[0].replaceChildren(...Object.entries(st.layers).map(([l, c]) => h('tr', {}, h('td', {}, l), h('td', {}, c.events), h('td', {}, c.tx), h('td', {}, c.rx), h('td', {}, c.drop))));
  });
  store.subscribe(draw);
  draw();
  if ($('imp-form')) impairmentForm();
}

const INTRO_HIDDEN = 'tipy-intro-hidden';

// welcome shows the panel unless it was dismissed, and wires its buttons:
// hide it, or run the first experiment and go to its card.
function welcome() {
  const intro = $('intro');
  if (new URLSearchParams(location.search).has('welcome')) {
    localStorage.removeItem(INTRO_HIDDEN);
    history.replaceState(null, '', location.pathname);
  }
  intro.hidden = localStorage.getItem(INTRO_HIDDEN) === '1';
  $('intro-hide').onclick = () => { localStorage.setItem(INTRO_HIDDEN, '1'); intro.hidden = true; };
  const run = $('welcome-run');
  if (!run) return;
  run.onclick = async () => {
    run.disabled = true;
    try {
      await call('POST', 'experiments', { id: 'arp-queue' });
      location.href = '/experiments#exp-arp-queue';
    } catch (e) {
      $('welcome-error').textContent = e.code === 'busy' ? `${e.message}. Try again in a moment.` : e.message;
      run.disabled = false;
    }
  };
}

// impairmentForm sets a link's impairment through the API and lists every
// link's current one; the API's errors are shown as they come.
function impairmentForm() {
  const sel = $('imp-link');
  const err = $('imp-error');
  onLab((st) => {
    const links = st.links || [];
    const names = links.map((l) => l.name);
    if (sel.options.length !== names.length || names.some((n, i) => sel.options[i].value !== n)) {
      const keep = sel.value;
      sel.replaceChildren(...names.map((n) => h('option', { value: n }, n)));
      if (names.includes(keep)) sel.value = keep;
    }
    $('imp-links').tBodies[0].replaceChildren(...links.map((l) => h('tr', { 'data-link': l.name }, h('td', {}, l.name), h('td', {}, l.in), h('td', {}, l.out))));
  });
  $('imp-form').onsubmit = async (ev) => {
    ev.preventDefault();
    const link = sel.value;
    try {
      await call('PUT', `lab/links/${encodeURIComponent(link)}/impairment`, { direction: $('imp-dir').value, spec: $('imp-spec').value.trim() || 'none' });
      err.textContent = '';
      publishLab(await get('lab'));
    } catch (e) {
      err.textContent = e.message;
    }
  };
}

// drawTopology draws each segment as a bus with its hosts hanging from it.
function drawTopology(hosts, links) {
  const segs = new Map();
  for (const x of hosts) {
    const seg = (x.link || '').split('/')[0] || 'link';
    if (!segs.has(seg)) segs.set(seg, []);
    segs.get(seg).push(x);
  }
  const kids = [];
  let y = 30;
  for (const [seg, hs] of segs) {
    const w = Math.max(1, hs.length);
    kids.push(svg('line', { x1: 20, y1: y, x2: 580, y2: y, class: 'bus' }), svg('text', { x: 20, y: y - 8, class: 'seg' }, `segment ${seg}`));
    hs.forEach((x, i) => {
      const cx = 20 + (560 / w) * (i + 0.5);
      const ln = links.find((l) => l.name === x.link);
      const imp = ln && (ln.in !== 'none' || ln.out !== 'none') ? `in ${ln.in}, out ${ln.out}` : '';
      kids.push(svg('line', { x1: cx, y1: y, x2: cx, y2: y + 40, class: imp ? 'wire impaired' : 'wire' }),
        svg('g', { class: 'node', 'data-host': x.name }, svg('rect', { x: cx - 70, y: y + 40, width: 140, height: 44, rx: 6 }),
          svg('text', { x: cx, y: y + 58, 'text-anchor': 'middle', class: 'name' }, x.name),
          svg('text', { x: cx, y: y + 75, 'text-anchor': 'middle' }, (x.addresses || []).join(' '))),
        imp ? svg('text', { x: cx + 4, y: y + 30, class: 'imp' }, imp) : null);
    });
    y += 110;
  }
  const el = $('topology');
  el.setAttribute('viewBox', `0 0 600 ${Math.max(120, y - 20)}`);
  el.replaceChildren(...kids.filter(Boolean));
}
