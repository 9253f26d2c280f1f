// pointer.js: a page opened from an experiment's link shows what it was
// pointed at. ?note=TEXT&from=ID puts a banner at the top of the page
// ("from experiment ID: TEXT"); ?host=NAME marks that host's panels, rows
// and drawings on whatever page it is (the Frames page also takes
// ?highlight=SEQ,... and ?layers=..., see pages/frames.js).

import { $, h } from './util.js';

/** pointerParams reads the pointer's part of the URL. */
export function pointerParams() {
  const q = new URLSearchParams(location.search);
  const list = (k) => (q.get(k) || '').split(',').map((s) => s.trim()).filter(Boolean);
  return {
    host: q.get('host') || '',
    layers: list('layers').map((s) => s.toLowerCase()),
    highlight: list('highlight').map(Number).filter((n) => Number.isInteger(n) && n > 0),
    note: q.get('note') || '',
    from: q.get('from') || '',
  };
}

/** startPointer shows the banner and keeps the pointed-at host marked as the page redraws. */
export function startPointer() {
  const p = pointerParams();
  if (!p.note && !p.host && !p.from) return;
  const main = $('main');
  const what = [];
  if (p.host) what.push(h('span', {}, ' host ', h('strong', {}, p.host)));
  if (p.layers.length) what.push(h('span', {}, ' layers ', h('strong', {}, p.layers.join(', '))));
  if (p.highlight.length) what.push(h('span', {}, ` ${p.highlight.length === 1 ? 'event' : 'events'} `, h('strong', {}, p.highlight.map((s) => `#${s}`).join(' '))));
  const banner = h('div', { class: 'pointer-note', id: 'pointer-note', role: 'note' },
    p.from ? h('span', {}, 'From experiment ', h('a', { href: `/experiments#exp-${encodeURIComponent(p.from)}` }, p.from), ': ') : null,
    p.note ? h('strong', {}, p.note) : null,
    what.length ? h('span', { class: 'muted' }, ' · marked here:', ...what) : null,
    h('button', { type: 'button', class: 'close', title: 'hide this note', 'aria-label': 'hide this note', onclick: () => { banner.hidden = true; } }, '×'));
  main.prepend(banner);
  if (!p.host) return;
  // The host's select boxes take its name, so the page shows it.
  for (const sel of document.querySelectorAll('select#cs-host, select#fr-host')) {
    if ([...sel.options].some((o) => o.value === p.host)) {
      sel.value = p.host;
      sel.classList.add('pointed');
      sel.dispatchEvent(new Event('change'));
      sel.dispatchEvent(new Event('input'));
    }
  }
  // Pages redraw their panels as events come: mark them again each time.
  let scrolled = false;
  const mark = () => {
    const els = main.querySelectorAll(`[data-host="${CSS.escape(p.host)}"]`);
    for (const el of els) if (!el.classList.contains('pointed')) el.classList.add('pointed');
    if (!scrolled && els.length) {
      scrolled = true;
      els[0].scrollIntoView({ block: els[0].offsetHeight > innerHeight / 2 ? 'start' : 'center' });
    }
  };
  new MutationObserver(mark).observe(main, { childList: true, subtree: true });
  mark();
}
