// tcp.js: TCP connections; for one, the state diagram with the current
// state lit and the trail of transitions, cwnd/ssthresh/flight/peer window
// and SRTT/RTO graphs with marks, a Stevens time-sequence graph and a
// ladder diagram of its segments.

import uPlot from 'uplot';
import { get } from '../api.js';
import { $, h, svg, fmtTime, throttleFrame } from '../util.js';

// Boxes of the RFC 9293 §3.3.2 diagram: [state, x, y].
const BOXES = [
  ['CLOSED', 210, 20], ['LISTEN', 210, 75], ['SYN-RECEIVED', 80, 135], ['SYN-SENT', 340, 135],
  ['ESTABLISHED', 210, 190], ['FIN-WAIT-1', 80, 250], ['CLOSE-WAIT', 340, 250], ['FIN-WAIT-2', 80, 305],
  ['CLOSING', 210, 305], ['LAST-ACK', 340, 305], ['TIME-WAIT', 210, 365],
];
const POS = Object.fromEntries(BOXES.map(([s, x, y]) => [s, [x, y]]));

/** reverseConn names the other side of a connection: "a-b" → "b-a". */
export const reverseConn = (c) => { const [a, b] = c.split('-'); return `${b}-${a}`; };

/** tcpPage draws the TCP page. */
export function tcpPage(store, data) {
  let selected = new URLSearchParams(location.search).get('conn') || '';
  let snapshots = {};
  let plots = null;
  const list = $('tcp-conns');
  const draw = throttleFrame(() => {
    const conns = Object.values(store.state.tcp);
    for (const [host, snaps] of Object.entries(snapshots)) for (const s of snaps) {
      if (!conns.some((c) => c.conn === s.conn && c.host === host)) conns.push({ key: `${s.conn}@${host}`, conn: s.conn, host, state: s.state, trail: [], samples: [], marks: [], segs: [] });
    }
    const stateOf = (c) => (data.live && snapshots[c.host]?.find((s) => s.conn === c.conn)?.state) || c.state;
    if (!selected && conns.length) selected = conns[0].key;
    const had = document.activeElement?.closest?.('#tcp-conns button');
    const focusKey = had ? `${had.dataset.conn}@${had.dataset.host}` : '';
    list.replaceChildren(...conns.map((c) => h('li', {}, h('button', { type: 'button', class: c.key === selected ? 'sel' : null, 'aria-pressed': String(c.key === selected), 'data-conn': c.conn, 'data-host': c.host,
      onclick: () => { selected = c.key; draw(); } }, h('span', { class: 'tag' }, c.host), ` ${c.conn} `, h('span', { class: `state s-${stateOf(c)}` }, stateOf(c))))));
    if (focusKey) for (const b of list.querySelectorAll('button')) if (`${b.dataset.conn}@${b.dataset.host}` === focusKey) b.focus({ preventScroll: true });
    const c = conns.find((x) => x.key === selected);
    if (!c) return;
    const peer = conns.find((x) => x.conn === reverseConn(c.conn));
    $('tcp-state').replaceChildren(h('strong', { id: 'tcp-current' }, stateOf(c)), ` on ${c.host}, ${c.conn}`);
    drawDiagram(stateOf(c), c.trail);
    $('tcp-trail').replaceChildren(...c.trail.map((t, i) => h('li', {}, h('span', { class: 'tag' }, `${i + 1}. ${fmtTime(t.t_ns)}`), ` ${t.from} → ${t.to}: ${t.why} `, h('span', { class: 'rfc' }, t.rfc))));
    plots = drawGraphs(plots, c);
    drawStevens(c);
    drawLadder(c, peer);
  });
  store.subscribe(draw);
  if (data.live) {
    const poll = async () => {
      for (const host of data.hosts) {
        try { snapshots[host] = (await get(`hosts/${encodeURIComponent(host)}/tcp`)).connections || []; } catch { /* not live */ }
      }
      draw();
    };
    poll();
    setInterval(poll, 1000);
  }
  draw();
}

function drawDiagram(current, trail) {
  const d = $('tcp-diagram');
  const kids = [svg('defs', {}, svg('marker', { id: 'arrow', viewBox: '0 0 10 10', refX: 9, refY: 5, markerWidth: 6, markerHeight: 6, orient: 'auto' }, svg('path', { d: 'M0,0 L10,5 L0,10 z' })))];
  trail.forEach((t, i) => {
    const a = POS[t.from], b = POS[t.to];
    if (!a || !b) return;
    kids.push(svg('line', { x1: a[0], y1: a[1] + 12, x2: b[0], y2: b[1] - 12, class: 'trail', 'marker-end': 'url(#arrow)' }));
    kids.push(svg('text', { x: (a[0] + b[0]) / 2 + 6, y: (a[1] + b[1]) / 2, class: 'num' }, String(i + 1)));
  });
  for (const [s, x, y] of BOXES) {
    kids.push(svg('g', { class: s === current ? 'box lit' : 'box', 'data-state': s },
      svg('rect', { x: x - 62, y: y - 12, width: 124, height: 24, rx: 5 }), svg('text', { x, y: y + 4, 'text-anchor': 'middle' }, s)));
  }
  d.replaceChildren(...kids);
}

function markHook(c) {
  return {
    hooks: {
      draw: [(u) => {
        const ctx = u.ctx;
        for (const m of c.marks) {
          const x = u.valToPos(m.t_ns / 1e9, 'x', true);
          ctx.strokeStyle = m.kind === 'retransmission' ? '#d22' : m.kind === 'recovery' ? '#e80' : '#000';
          ctx.beginPath(); ctx.moveTo(x, u.bbox.top); ctx.lineTo(x, u.bbox.top + u.bbox.height); ctx.stroke();
        }
      }],
    },
  };
}

function drawGraphs(plots, c) {
  const t = c.samples.map((s) => s.t_ns / 1e9);
  const cw = [t, c.samples.map((s) => s.cwnd), c.samples.map((s) => (s.ssthresh > 0 ? s.ssthresh : null)), c.samples.map((s) => s.flight), c.samples.map((s) => s.peer_window)];
  const rt = [t, c.samples.map((s) => s.srtt_ms), c.samples.map((s) => s.rto_ms)];
  const el = $('graph-cwnd');
  el.dataset.points = String(c.samples.length);
  el.dataset.conn = c.key;
  el.dataset.marks = c.marks.map((m) => m.kind).join(' ');
  if (!plots || plots.key !== c.key) {
    $('graph-cwnd').replaceChildren();
    $('graph-rtt').replaceChildren();
    const width = Math.max(400, $('graph-cwnd').clientWidth || 700);
    const base = (title, series) => ({ title, width, height: 200, scales: { x: { time: false } }, axes: [{ label: 'time (s)' }, { size: 70 }], series: [{ label: 't (s)' }, ...series], plugins: [markHook(c)] });
    const p1 = new uPlot(base('bytes', [
      { label: 'cwnd', stroke: '#1565c0', width: 2, points: { show: true } }, { label: 'ssthresh', stroke: '#6a1b9a', dash: [6, 4] },
      { label: 'flight', stroke: '#2e7d32' }, { label: 'peer window', stroke: '#999' }]), cw, $('graph-cwnd'));
    const p2 = new uPlot(base('milliseconds', [{ label: 'SRTT', stroke: '#00838f', width: 2, points: { show: true } }, { label: 'RTO', stroke: '#c62828' }]), rt, $('graph-rtt'));
    return { key: c.key, p1, p2 };
  }
  plots.p1.setData(cw);
  plots.p2.setData(rt);
  return plots;
}

function drawStevens(c) {
  const el = $('stevens');
  const tx = c.segs.filter((s) => s.dir === 'tx' && typeof s.sn === 'number');
  if (!tx.length) { el.replaceChildren(svg('text', { x: 10, y: 20, class: 'muted' }, 'no segments sent yet')); return; }
  const t0 = tx[0].t_ns, t1 = Math.max(tx[tx.length - 1].t_ns, t0 + 1);
  const s0 = tx[0].sn;
  const rel = (s) => ((s - s0) >>> 0);
  const maxS = Math.max(1, ...tx.map((s) => rel(s.sn) + s.len));
  const X = (t) => 40 + ((t - t0) / (t1 - t0)) * 540, Y = (s) => 200 - (s / maxS) * 180;
  const kids = [svg('line', { x1: 40, y1: 200, x2: 580, y2: 200, class: 'axis' }), svg('line', { x1: 40, y1: 20, x2: 40, y2: 200, class: 'axis' }),
    svg('text', { x: 300, y: 216, 'text-anchor': 'middle' }, `time: ${fmtTime(t0)}–${fmtTime(t1)} s`), svg('text', { x: 4, y: 14 }, `seq +${maxS}`)];
  let hi = -1;
  for (const s of tx) {
    const r = rel(s.sn);
    const retx = r + s.len <= hi && s.len > 0;
    hi = Math.max(hi, r + s.len);
    kids.push(svg('line', { x1: X(s.t_ns), y1: Y(r), x2: X(s.t_ns), y2: Y(r + Math.max(s.len, 1)), class: retx ? 'seg retx' : 'seg' }, svg('title', {}, s.summary)));
  }
  // The ACKs that came back, as a step line: the gap to the dots is what is in flight.
  let d = '';
  for (const s of c.segs) {
    if (s.dir !== 'rx' || typeof s.ack !== 'number' || !s.flags.includes('.') || s.t_ns < t0 || s.t_ns > t1) continue;
    const r = rel(s.ack);
    if (r > maxS) continue;
    d += `${d ? 'L' : 'M'}${X(s.t_ns).toFixed(1)},${Y(r).toFixed(1)} `;
  }
  if (d) kids.push(svg('path', { d, class: 'acks' }, svg('title', {}, 'acknowledged sequence numbers')));
  el.replaceChildren(...kids);
}

function drawLadder(c, peer) {
  const el = $('ladder');
  const segs = c.segs.slice(-40);
  const height = Math.max(300, 40 + segs.length * 18);
  el.setAttribute('viewBox', `0 0 600 ${height}`);
  const [a, b] = c.conn.split('-');
  const kids = [svg('text', { x: 100, y: 16, 'text-anchor': 'middle' }, `${c.host} ${a}`), svg('text', { x: 500, y: 16, 'text-anchor': 'middle' }, b),
    svg('line', { x1: 100, y1: 24, x2: 100, y2: height, class: 'axis' }), svg('line', { x1: 500, y1: 24, x2: 500, y2: height, class: 'axis' })];
  segs.forEach((s, i) => {
    const y = 36 + i * 18;
    const [x1, x2] = s.dir === 'tx' ? [100, 500] : [500, 100];
    const label = `${s.flags} seq ${s.sn} ack ${s.ack} len ${s.len}`;
    kids.push(svg('line', { x1, y1: y, x2, y2: y + 12, class: `seg ${s.dir}`, 'marker-end': 'url(#arrow)' }, svg('title', {}, s.summary)));
    kids.push(svg('text', { x: 300, y: y + 4, 'text-anchor': 'middle', class: 'lbl' }, label));
  });
  if (!peer && !segs.length) kids.push(svg('text', { x: 300, y: 60, 'text-anchor': 'middle' }, 'no segments yet'));
  el.replaceChildren(...kids);
}
