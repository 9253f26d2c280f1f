// network.js: per host its interfaces, routes and counters with drop
// reasons (from the API when live, from the events in a replay).

import { get } from '../api.js';
import { $, h, throttleFrame } from '../util.js';

const table = (cols, rows) => h('table', { class: 'data' }, h('thead', {}, h('tr', {}, cols.map((c) => h('th', {}, c)))), h('tbody', {}, rows.map((r) => h('tr', {}, r.map((v) => h('td', {}, v ?? ''))))));

/** networkPage draws the Routes and counters page. */
export function networkPage(store, data) {
  const out = $('net-hosts');
  if (!data.live) {
    const draw = throttleFrame(() => {
      out.replaceChildren(...Object.entries(store.state.drops).map(([host, d]) => h('section', {}, h('h2', {}, host),
        h('h3', {}, 'drops by reason (from the events)'), table(['reason', 'count'], Object.entries(d)))));
      if (!out.children.length) out.replaceChildren(h('p', { class: 'muted' }, 'no drops in the events so far'));
    });
    store.subscribe(draw);
    draw();
    return;
  }
  const load = async () => {
    const hosts = (await get('hosts')).hosts || [];
    const parts = [];
    for (const x of hosts.filter((x) => x.live !== false)) {
      const n = encodeURIComponent(x.name);
      const [routes, stats] = await Promise.all([get(`hosts/${n}/routes`).catch(() => ({ routes: [] })), get(`hosts/${n}/stats`).catch(() => ({ layers: {}, drops: [] }))]);
      const counters = [];
      for (const [layer, l] of Object.entries(stats.layers || {})) for (const [k, v] of Object.entries(l.counters || {})) counters.push([layer, k, v]);
      parts.push(h('section', { class: 'net-host', 'data-host': x.name }, h('h2', {}, x.name),
        h('h3', {}, 'interfaces'), table(['name', 'MAC', 'address', 'state', 'MTU', 'link'], (x.interfaces || []).map((i) => [i.name, i.mac, i.address, i.address_state, i.mtu, i.link])),
        h('h3', {}, 'routes'), table(['destination', 'gateway', 'interface', 'kind'], (routes.routes || []).map((r) => [r.destination, r.gateway, r.interface, r.kind])),
        h('h3', {}, 'counters'), table(['layer', 'counter', 'value'], counters),
        h('h3', {}, 'drops'), table(['layer', 'reason', 'count', 'why'], (stats.drops || []).map((d) => [d.layer, d.reason, d.count, d.explain]))));
    }
    out.replaceChildren(...parts);
  };
  load();
  setInterval(load, 2000);
}
