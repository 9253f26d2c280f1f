// sockets.js: the console that drives the socket API of any host and shows
// each answer, or the API's error, verbatim.

import { call, get } from '../api.js';
import { $, h } from '../util.js';

/** socketsPage wires the console form. */
export function socketsPage(store, data) {
  const hostSel = $('cs-host');
  for (const n of data.hosts) hostSel.append(h('option', { value: n }, n));
  const val = (id) => $(id).value.trim();
  const num = (id, def) => (val(id) === '' ? def : Number(val(id)));
  const refresh = async () => {
    const tb = $('cs-sockets').tBodies[0];
    try {
      const r = await get(`hosts/${encodeURIComponent(hostSel.value)}/sockets`);
      const list = Array.isArray(r) ? r : (r?.sockets || []);
      tb.replaceChildren(...list.map((s) => h('tr', { 'data-id': s.id, tabindex: 0, onclick: () => { $('cs-id').value = s.id; } },
        h('td', {}, s.id), h('td', {}, s.type), h('td', { class: 'state' }, s.state), h('td', {}, s.local || ''), h('td', {}, s.remote || ''))));
    } catch (err) {
      tb.replaceChildren(h('tr', {}, h('td', { colspan: 5, class: 'error' }, err.message)));
    }
  };
  hostSel.onchange = refresh;
  const HINTS = {
    create: 'POST /sockets: a new socket of the chosen type (stream is TCP, dgram is UDP, raw takes a protocol number in the number field).',
    bind: 'bind: give the socket a local address and port (0 picks a free port).',
    connect: 'connect: a stream socket performs the TCP three-way handshake; a dgram socket only fixes its peer.',
    listen: 'listen: make a bound stream socket accept connections; the number is the backlog.',
    accept: 'accept: wait (up to the number, in ms) for a connection and return its new socket.',
    send: 'send: queue the text on a connected socket.',
    sendto: 'sendto: send the text as one datagram to address and port.',
    recv: 'recv: wait (up to the number, in ms) for data; EOF means the peer shut down its side.',
    recvfrom: 'recvfrom: receive one datagram and who sent it.',
    shutdown: 'shutdown: SHUT_WR sends a FIN; SHUT_RD refuses further data.',
    setsockopt: 'setsockopt: the option name and a JSON value; the level follows from the name.',
    close: 'close: DELETE the socket; a TCP connection then closes (or resets with SO_LINGER 0).',
    ping: 'ping: ICMP echo requests to the address; the number is the count.',
  };
  const hint = () => { $('cs-hint').textContent = HINTS[$('cs-op').value] || ''; };
  $('cs-op').addEventListener('change', hint);
  hint();
  const request = () => {
    const host = `hosts/${encodeURIComponent(hostSel.value)}`;
    const sock = `${host}/sockets/${encodeURIComponent(val('cs-id'))}`;
    const op = $('cs-op').value;
    const addr = { address: val('cs-addr'), port: num('cs-port', 0) };
    switch (op) {
      case 'create': return ['POST', `${host}/sockets`, { type: $('cs-type').value, ...(val('cs-num') ? { protocol: num('cs-num') } : {}) }];
      case 'bind': return ['POST', `${sock}/bind`, addr];
      case 'connect': return ['POST', `${sock}/connect`, addr];
      case 'listen': return ['POST', `${sock}/listen`, { backlog: num('cs-num', 8) }];
      case 'accept': return ['POST', `${sock}/accept`, { timeout_ms: num('cs-num', 1000) }];
      case 'send': return ['POST', `${sock}/send`, { text: $('cs-text').value }];
      case 'sendto': return ['POST', `${sock}/sendto`, { text: $('cs-text').value, ...addr }];
      case 'recv': return ['POST', `${sock}/recv`, { max: 65536, timeout_ms: num('cs-num', 1000) }];
      case 'recvfrom': return ['POST', `${sock}/recvfrom`, { max: 65536, timeout_ms: num('cs-num', 1000) }];
      case 'shutdown': return ['POST', `${sock}/shutdown`, { how: $('cs-how').value }];
      case 'setsockopt': {
        let v = val('cs-val');
        try { v = JSON.parse(v); } catch { /* a bare word stays a string */ }
        return ['POST', `${sock}/setsockopt`, { level: /^TCP_/.test(val('cs-opt')) ? 'IPPROTO_TCP' : /^IP_/.test(val('cs-opt')) ? 'IPPROTO_IP' : 'SOL_SOCKET', name: val('cs-opt'), value: v }];
      }
      case 'close': return ['DELETE', sock, undefined];
      case 'ping': return ['POST', `${host}/ping`, { address: val('cs-addr'), count: num('cs-num', 1) }];
    }
    return ['GET', host, undefined];
  };
  $('console').addEventListener('submit', async (ev) => {
    ev.preventDefault();
    let [method, path, body] = request();
    if (val('cs-body') !== '') body = $('cs-body').value;
    const shown = body === undefined ? '' : (typeof body === 'string' ? body : JSON.stringify(body));
    const item = h('li', { class: 'pending' }, h('div', { class: 'req' }, `${method} /api/v1/${path} ${shown}`), h('pre', { class: 'res' }, '…'));
    $('cs-log').prepend(item);
    try {
      const r = await call(method, path, body);
      item.className = 'ok';
      item.querySelector('.res').textContent = `${r.status} ${r.text}`;
      if ($('cs-op').value === 'create' && r.body?.id !== undefined) $('cs-id').value = r.body.id;
    } catch (err) {
      item.className = 'err';
      item.querySelector('.res').textContent = `${err.status || ''} ${err.code ? `${err.code}: ` : ''}${err.message}`;
    }
    refresh();
  });
  refresh();
}
