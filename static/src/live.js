// live.js: the live source. It subscribes to /api/v1/events (from the
// start of the bus's ring when it still holds it), feeds each batch to the
// store, and fetches the list columns of new frames from /ui/frames.

import { get } from './api.js';

const RESUME_WINDOW = 3500; // events asked back from the ring: below the server's per-client queue
const CONTEXT = 300;        // events asked for before the one a page is opened at

/**
 * startLive connects the store to the event stream and keeps it connected.
 * With from (a seq), the stream starts a little before that event when the
 * bus's ring still holds it, so a page opened at an older event (an
 * experiment's proof) shows it in its context.
 */
export function startLive(store, onStatus, from = 0) {
  // The first connection asks for a seq far ahead: the server answers with a
  // reset event that names the latest seq and the oldest one its ring
  // holds. The next connection resumes from the recent part of the ring, so
  // the page starts with the last few thousand events and then goes live.
  const PROBE = Number.MAX_SAFE_INTEGER;
  let since = PROBE;
  let retry = 250;
  const open = () => {
    const proto = location.protocol === 'https:' ? 'wss' : 'ws';
    const ws = new WebSocket(`${proto}://${location.host}/api/v1/events?since=${since}`);
    ws.onopen = () => { retry = 250; if (since !== PROBE) onStatus('live'); };
    ws.onmessage = (m) => {
      let evs;
      try { evs = JSON.parse(m.data); } catch { return; }
      if (!Array.isArray(evs) || evs.length === 0) return;
      if (since === PROBE) {
        const r = evs[0];
        const latest = r.kind === 'reset' ? r.seq : 0;
        const oldest = r.fields?.oldest || 1;
        since = Math.max(oldest - 1, latest - RESUME_WINDOW, 0);
        if (from > 0 && from <= latest) since = Math.min(since, Math.max(oldest - 1, from - 1 - CONTEXT, 0));
        ws.onclose = null;
        ws.close();
        open();
        return;
      }
      since = evs[evs.length - 1].seq;
      store.append(evs);
      fetchSummaries(store, evs.filter((e) => e.has_frame && e.layer === 'link').map((e) => e.seq));
    };
    ws.onclose = () => {
      onStatus('disconnected, retrying');
      setTimeout(open, retry);
      retry = Math.min(retry * 2, 5000);
    };
  };
  open();
}
async function fetchSummaries(store, seqs) {
  for (let i = 0; i < seqs.length; i += 500) {
    const part = seqs.slice(i, i + 500);
    try {
      const r = await get(`/ui/frames?seqs=${part.join(',')}`);
      for (const [k, v] of Object.entries(r.frames || {})) store.summaries.set(+k, v);
    } catch { /* frames gone: the row keeps its link summary */ }
  }
  if (seqs.length) store.emit();
}
