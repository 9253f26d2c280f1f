// store.js: the one client pipeline for live and replay. Events go through
// reduce() into a state the pages draw; a live stream appends, a replay
// moves a cursor and rebuilds from the nearest snapshot when stepping back.

const MAX_FRAMES = 5000;   // rows kept in the frame list
const MAX_LIST = 300;      // ARP and TCP event lists
const MAX_SERIES = 5000;   // points per TCP series
const SNAPSHOT_EVERY = 1000;

/** initialState is the state before any event. */
export function initialState() {
  return {
    seq: 0, t_ns: 0, count: 0, frameCount: 0, dropCount: 0, gaps: 0, last: null,
    frames: [],                 // {seq, t_ns, host, dir, length, summary, frame?}
    layers: {},                 // layer -> {events, tx, rx, drop}
    drops: {},                  // host -> reason -> n
    arp: {},                    // host -> ip -> {ip, mac, state, iface, queued, since_ns}
    arpEvents: [],
    tcp: {},                    // conn@host -> connection record
  };
}

const lenRe = /(\d+) bytes/;

/** reduce applies one event to the state, in place, and returns it. */
export function reduce(st, e) {
  st.count++;
  st.seq = e.seq;
  if (e.t_ns) st.t_ns = Math.max(st.t_ns, e.t_ns);
  st.last = e;
  const L = (st.layers[e.layer] ||= { events: 0, tx: 0, rx: 0, drop: 0 });
  L.events++;
  if (e.kind === 'tx' || e.kind === 'rx' || e.kind === 'drop') L[e.kind]++;
  if (e.kind === 'drop') {
    st.dropCount++;
    const d = (st.drops[e.host] ||= {});
    const reason = `${e.layer}: ${e.reason || 'unspecified'}`;
    d[reason] = (d[reason] || 0) + 1;
  }
  if (e.kind === 'gap' || e.kind === 'reset') st.gaps++;
  if ((e.has_frame || e.frame) && e.layer === 'link' && (e.kind === 'tx' || e.kind === 'rx')) {
    st.frameCount++;
    const m = lenRe.exec(e.summary || '');
    st.frames.push({ seq: e.seq, t_ns: e.t_ns, host: e.host, dir: e.kind, length: m ? +m[1] : (e.frame ? Math.floor(e.frame.length * 3 / 4) : 0), summary: e.summary, frame: e.frame });
    if (st.frames.length > MAX_FRAMES) st.frames.splice(0, st.frames.length - MAX_FRAMES);
  }
  if (e.layer === 'arp') reduceARP(st, e);
  if (e.layer === 'tcp' && e.conn) reduceTCP(st, e);
  return st;
}

function reduceARP(st, e) {
  const f = e.fields || {};
  if (e.kind === 'cache' && f.ip) {
    const tab = (st.arp[e.host] ||= {});
    if (f.to === 'deleted' || f.to === 'removed' || f.to === 'gone') delete tab[f.ip];
    else {
      const old = tab[f.ip] || { queued: 0 };
      tab[f.ip] = { ip: f.ip, mac: f.mac || old.mac || '', state: f.to || old.state || '', iface: f.iface || old.iface || '', queued: old.queued, since_ns: e.t_ns };
    }
  }
  if (f.ip && typeof f.queued === 'number' && st.arp[e.host]?.[f.ip]) st.arp[e.host][f.ip].queued = f.queued;
  if (f.ip && typeof f.released === 'number' && st.arp[e.host]?.[f.ip]) st.arp[e.host][f.ip].queued = 0;
  st.arpEvents.push(e);
  if (st.arpEvents.length > MAX_LIST) st.arpEvents.splice(0, st.arpEvents.length - MAX_LIST);
}

function reduceTCP(st, e) {
  const key = `${e.conn}@${e.host}`;
  const c = (st.tcp[key] ||= { key, conn: e.conn, host: e.host, state: '', trail: [], samples: [], marks: [], segs: [] });
  const f = e.fields || {};
  const text = `${e.summary || ''} ${e.explain || ''} ${f.analysis || ''}`;
  if (e.kind === 'state' && f.to) {
    c.state = f.to;
    c.trail.push({ seq: e.seq, t_ns: e.t_ns, from: f.from, to: f.to, why: f.trigger || e.explain || '', rfc: e.rfc || '' });
  } else if (e.kind === 'sample' && typeof f.cwnd === 'number') {
    c.samples.push({ t_ns: e.t_ns, cwnd: f.cwnd, ssthresh: f.ssthresh, flight: f.flight, peer_window: f.peer_window, srtt_ms: f.srtt_ms, rto_ms: f.rto_ms });
    if (c.samples.length > MAX_SERIES) c.samples.shift();
  } else if (e.kind === 'tx' || e.kind === 'rx') {
    c.segs.push({ seq: e.seq, t_ns: e.t_ns, dir: e.kind, sn: f.seq, ack: f.ack, len: f.len || 0, flags: f.flags || '', summary: e.summary });
    if (c.segs.length > MAX_SERIES) c.segs.shift();
    if (e.kind === 'tx' && /retransmi/i.test(text)) c.marks.push({ t_ns: e.t_ns, kind: 'retransmission' });
  }
  if (e.kind === 'timer' && f.action === 'fired' && /retrans/.test(f.timer || '')) c.marks.push({ t_ns: e.t_ns, kind: 'timeout' });
  else if (e.kind === 'info' && /^retransmission timeout/i.test(e.summary || '')) c.marks.push({ t_ns: e.t_ns, kind: 'timeout' });
  else if (e.kind !== 'tx' && e.kind !== 'rx' && /recovery/i.test(e.summary || '')) c.marks.push({ t_ns: e.t_ns, kind: 'recovery' });
}

/** Store holds the events, the state and the cursor; pages subscribe to changes. */
export class Store {
  constructor() {
    this.events = [];          // every event received, in order (replay: the whole trace)
    this.pos = 0;              // events[0:pos] are applied
    this.state = initialState();
    this.snapshots = [];       // {pos, state}
    this.listeners = new Set();
    this.summaries = new Map(); // frame seq -> {protocol, source, destination, info, dissection?}
    this.keepAll = true;       // live: trim old events
  }
  subscribe(fn) { this.listeners.add(fn); return () => this.listeners.delete(fn); }
  emit() { for (const fn of this.listeners) fn(this); }
  /** append adds events (live) and applies them at once. */
  append(evs) {
    for (const e of evs) { this.events.push(e); reduce(this.state, e); }
    this.pos = this.events.length;
    if (this.events.length > 20000) { this.events.splice(0, this.events.length - 10000); this.pos = this.events.length; }
    if (this.summaries.size > MAX_FRAMES * 2 && this.state.frames.length) {
      const first = this.state.frames[0].seq;
      for (const k of this.summaries.keys()) if (k < first) this.summaries.delete(k);
    }
    this.emit();
  }
  /** load replaces the events with a trace to play back from its start. */
  load(evs) {
    this.events = evs; this.pos = 0; this.state = initialState(); this.snapshots = []; this.emit();
  }
  /** seek applies events up to position p (0..events.length), from the nearest snapshot. */
  seek(p) {
    p = Math.max(0, Math.min(this.events.length, p));
    if (p < this.pos) {
      let snap = null;
      for (const s of this.snapshots) if (s.pos <= p && (!snap || s.pos > snap.pos)) snap = s;
      this.state = snap ? structuredClone(snap.state) : initialState();
      this.pos = snap ? snap.pos : 0;
    }
    while (this.pos < p) {
      reduce(this.state, this.events[this.pos]);
      this.pos++;
      if (this.pos % SNAPSHOT_EVERY === 0 && !this.snapshots.some((s) => s.pos === this.pos)) {
        this.snapshots.push({ pos: this.pos, state: structuredClone(this.state) });
      }
    }
    this.emit();
  }
}
