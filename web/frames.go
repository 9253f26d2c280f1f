package web

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"net/http"
	"sort"
	"strconv"
	"sync"

	"github.com/go-chi/chi/v5"

	"github.com/tipy/tipy/observe"
	"github.com/tipy/tipy/stack/wire"
)

// StreamEvent is an event as the WebSocket stream and the frame endpoint
// send it: without its frame bytes, which GET /frames/{seq} serves, and with
// HasFrame telling whether there are any.
type StreamEvent struct {
	observe.Event
	HasFrame bool `json:"has_frame,omitempty"`
	// Coalesced counts the earlier samples of the same series this one
	// replaced within its batch.
	Coalesced int `json:"coalesced,omitempty"`
}

// streamEvent strips e's frame.
func streamEvent(e observe.Event) StreamEvent {
	se := StreamEvent{Event: e, HasFrame: len(e.Frame) > 0}
	se.Frame = nil
	return se
}

// frameStore keeps the frame events of the last frames streamed, by seq,
// bounded in count and bytes; the oldest go first.
type frameStore struct {
	mu       sync.Mutex
	max      int
	maxBytes int
	bytes    int
	order    []uint64 // seqs, oldest first
	head     int      // index of the oldest in order
	byseq    map[uint64]observe.Event
}

func newFrameStore(max, maxBytes int) *frameStore {
	return &frameStore{max: max, maxBytes: maxBytes, byseq: make(map[uint64]observe.Event, max)}
}

// put keeps e (an event with a frame); events are shared read-only.
func (fs *frameStore) put(e observe.Event) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	if _, ok := fs.byseq[e.Seq]; ok {
		return
	}
	fs.byseq[e.Seq] = e
	fs.order = append(fs.order, e.Seq)
	fs.bytes += len(e.Frame)
	for len(fs.byseq) > fs.max || (fs.bytes > fs.maxBytes && len(fs.byseq) > 1) {
		old := fs.order[fs.head]
		fs.head++
		fs.bytes -= len(fs.byseq[old].Frame)
		delete(fs.byseq, old)
	}
	if fs.head > len(fs.order)/2 && fs.head > 64 {
		fs.order = append(fs.order[:0], fs.order[fs.head:]...)
		fs.head = 0
	}
}

func (fs *frameStore) get(seq uint64) (observe.Event, bool) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	e, ok := fs.byseq[seq]
	return e, ok
}

// len returns the number of frames kept and their bytes.
func (fs *frameStore) len() (int, int) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	return len(fs.byseq), fs.bytes
}

// FrameJSON is GET /frames/{seq}: a frame with its bytes, its dissection,
// and the events of its path through the hosts.
type FrameJSON struct {
	Seq        uint64          `json:"seq"`
	Event      StreamEvent     `json:"event"`
	Length     int             `json:"length"`
	Hex        string          `json:"hex"`
	Base64     string          `json:"base64"`
	Dissection wire.Dissection `json:"dissection"`
	// Path holds the events of the same frame on every host it crossed
	// (sent, switched, received) and what each host did with it, by seq.
	// It is empty when the bus no longer holds those events.
	Path []StreamEvent `json:"path"`
}

// pathWindow is how many events on each side of a frame are searched for
// its path.
const pathWindow = 256

func (s *Server) getFrame(w http.ResponseWriter, r *http.Request) error {
	raw := chi.URLParam(r, "seq")
	seq, err := strconv.ParseUint(raw, 10, 64)
	if err != nil || seq == 0 {
		return badRequest("seq %q is not an event sequence number", raw)
	}
	e, ok := s.frames.get(seq)
	var window []observe.Event
	if s.cfg.Bus != nil {
		window = ringWindow(s.cfg.Bus, seq)
		if !ok {
			for _, x := range window {
				if x.Seq == seq && len(x.Frame) > 0 {
					e, ok = x, true
				}
			}
		}
	}
	if !ok {
		return notFound("no frame with seq %d is kept any more (or that event has no frame)", seq)
	}
	out := FrameJSON{Seq: seq, Event: streamEvent(e), Length: len(e.Frame), Hex: hex.EncodeToString(e.Frame),
		Base64: base64.StdEncoding.EncodeToString(e.Frame), Dissection: wire.Dissect(e.Frame), Path: []StreamEvent{}}
	for _, x := range framePath(e, window) {
		out.Path = append(out.Path, streamEvent(x))
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// ringWindow returns the events the bus's ring still holds around seq.
func ringWindow(b *observe.Bus, seq uint64) []observe.Event {
	since := uint64(0)
	if seq > pathWindow+1 {
		since = seq - pathWindow - 1
	}
	if st := b.Stats(); since+1 < st.Oldest {
		since = st.Oldest - 1
	}
	sub, ok := b.SubscribeSince(since, observe.Filter{}, 2*pathWindow+2)
	defer sub.Close()
	if !ok {
		return nil
	}
	buf := make([]observe.Event, 2*pathWindow+2)
	n := sub.TryNextN(buf)
	out := buf[:0]
	for _, e := range buf[:n] {
		if e.Kind != observe.KindGap && e.Kind != observe.KindReset && e.Seq <= seq+pathWindow {
			out = append(out, e)
		}
	}
	return out
}

// framePath picks from window the events of f's path: every event that
// carries the same bytes (the frame sent, switched, received), and the
// events each host published at the same instant while handling it, up to
// its next or from its previous frame.
func framePath(f observe.Event, window []observe.Event) []observe.Event {
	var anchors []observe.Event
	for _, e := range window {
		if bytes.Equal(e.Frame, f.Frame) {
			anchors = append(anchors, e)
		}
	}
	if len(anchors) == 0 {
		return nil
	}
	in := map[uint64]bool{}
	var out []observe.Event
	for _, a := range anchors {
		for _, e := range window {
			if e.Host != a.Host || e.TimeNS != a.TimeNS || in[e.Seq] {
				continue
			}
			if e.Seq != a.Seq && ((len(e.Frame) > 0 && !bytes.Equal(e.Frame, a.Frame)) || otherFrameBetween(window, a, e)) {
				continue
			}
			in[e.Seq] = true
			out = append(out, e)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Seq < out[j].Seq })
	return out
}

// otherFrameBetween reports whether host a.Host handled another frame
// between events a and e.
func otherFrameBetween(window []observe.Event, a, e observe.Event) bool {
	lo, hi := min(a.Seq, e.Seq), max(a.Seq, e.Seq)
	for _, x := range window {
		if x.Seq > lo && x.Seq < hi && x.Host == a.Host && len(x.Frame) > 0 && !bytes.Equal(x.Frame, a.Frame) {
			return true
		}
	}
	return false
}
