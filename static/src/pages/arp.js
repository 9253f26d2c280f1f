// arp.js: each host's ARP cache, live from the API and the events, with the
// ARP events beside it.

import { get } from '../api.js';
import { $, h, fmtTime, throttleFrame } from '../util.js';

/** arpPage draws the ARP page. */
export function arpPage(store, data) {
  const fromAPI = {};
  const draw = throttleFrame(() => {
    const st = store.state;
    const hosts = new Set([...data.hosts, ...Object.keys(st.arp)]);
    $('arp-tables').replaceChildren(...[...hosts].map((host) => {
      const rows = new Map();
      for (const e of fromAPI[host] || []) rows.set(e.address || e.ip, { ip: e.address || e.ip, mac: e.mac, state: e.state, queued: e.queued ?? 0, age: e.age_ms !== undefined ? `${e.age_ms} ms` : '', src: 'api' });
      for (const e of Object.values(st.arp[host] || {})) if (!rows.has(e.ip) || !data.live) rows.set(e.ip, { ...e, age: `${((st.t_ns - e.since_ns) / 1e9).toFixed(1)} s` });
      return h('section', { class: 'arp-host', 'data-host': host }, h('h3', {}, host),
        h('table', { class: 'data' }, h('thead', {}, h('tr', {}, ['address', 'MAC', 'state', 'age', 'queued'].map((c) => h('th', {}, c)))),
          h('tbody', {}, [...rows.values()].map((r) => h('tr', { 'data-ip': r.ip }, h('td', {}, r.ip), h('td', { class: 'mac' }, r.mac || ''), h('td', { class: `state ${r.state}` }, r.state), h('td', {}, r.age), h('td', {}, r.queued || 0))))));
    }));
    $('arp-events').replaceChildren(...st.arpEvents.slice(-150).reverse().map((e) => h('li', { class: `ev ${e.kind}` },
      h('span', { class: 'tag' }, `${fmtTime(e.t_ns)} ${e.host} ${e.kind}`), ' ', e.summary,
      e.explain ? h('div', { class: 'why' }, e.explain) : null, e.rfc ? h('div', { class: 'rfc' }, e.rfc) : null)));
  });
  store.subscribe(draw);
  if (data.live) {
    const poll = async () => {
      for (const host of data.hosts) {
        try {
          const r = await get(`hosts/${encodeURIComponent(host)}/arp`);
          fromAPI[host] = Array.isArray(r) ? r : (r?.entries || []);
        } catch { /* a host without a live stack */ }
      }
      draw();
    };
    poll();
    setInterval(poll, 1000);
  }
  draw();
}
