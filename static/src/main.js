// main.js: the dashboard's entry point. It reads the page's data, picks the
// source (the live stream, or a replay when the URL says ?replay=ID), and
// hands the one store both feed to the page's drawing code.

import 'uplot/dist/uPlot.min.css';
import './app.css';
import { Store } from './store.js';
import { startLive } from './live.js';
import { startReplay } from './player.js';
import { startLabBar } from './lab.js';
import { $ } from './util.js';
import { framesPage } from './pages/frames.js';
import { socketsPage } from './pages/sockets.js';
import { tcpPage } from './pages/tcp.js';
import { arpPage } from './pages/arp.js';
import { overviewPage } from './pages/overview.js';
import { networkPage } from './pages/network.js';
import { recordingsPage } from './pages/recordings.js';
import { experimentsPage } from './pages/experiments.js';
import { startPointer, pointerParams } from './pointer.js';

const PAGES = { frames: framesPage, sockets: socketsPage, tcp: tcpPage, arp: arpPage, overview: overviewPage, network: networkPage, recordings: recordingsPage, experiments: experimentsPage };

function boot() {
  const data = JSON.parse($('tipy-data').textContent);
  const store = new Store();
  window.tipyStore = store; // for the curious, from the browser console
  const replay = new URLSearchParams(location.search).get('replay');
  const status = $('status');
  const base = `${data.mode} · seed ${data.seed}`;
  const onStatus = (s) => { status.textContent = `${base} · ${s} · ${store.state.count} events`; };
  store.subscribe(() => onStatus(replay ? `replay ${store.pos}/${store.events.length}` : 'live'));
  if (replay) {
    data.live = false;
    for (const a of document.querySelectorAll('nav a')) a.href = `${a.getAttribute('href')}?replay=${encodeURIComponent(replay)}`;
  }
  (PAGES[data.page] || (() => {}))(store, data);
  startPointer();
  if (data.mode === 'lab' && !replay) startLabBar();
  else if ($('labbar')) $('labbar').hidden = true;
  if (replay) startReplay(store, replay, onStatus).catch((err) => { status.textContent = `replay ${replay}: ${err.message}`; });
  else if (data.live) {
    // The Frames page opened at highlighted events starts the stream just before the first.
    const hl = data.page === 'frames' ? pointerParams().highlight : [];
    startLive(store, onStatus, hl.length ? Math.min(...hl) : 0);
  } else {
    // tipyweb replay FILE: no live network; play the server's trace back.
    fetch('/api/v1/replays').then((r) => r.json()).then((r) => {
      const reps = Array.isArray(r) ? r : (r?.replays || []);
      if (reps.length) location.replace(`${location.pathname}?replay=${encodeURIComponent(reps[0].id)}`);
      else onStatus('no live network: open a trace on Record & replay');
    }).catch(() => onStatus('no live network: open a trace on Record & replay'));
  }
}

boot();
