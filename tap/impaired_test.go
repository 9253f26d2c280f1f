package tap

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"maps"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/tipy/tipy/observe"
	"github.com/tipy/tipy/stack/clock"
	"github.com/tipy/tipy/stack/wire"
)

// fakeLink is a Link on a virtual loop that records what is sent through it
// and hands injected frames to its handler from one reused buffer, as a TAP
// does.
type fakeLink struct {
	v      *clock.Virtual
	name   string
	mtu    int
	sent   []delivery
	count  int   // frames sent, also when not kept
	keep   bool  // record copies of sent frames
	refuse error // returned by Send when set
	h      Handler
	closed bool
	rx     []byte
}

func newFakeLink(v *clock.Virtual, name string) *fakeLink {
	return &fakeLink{v: v, name: name, mtu: 1500, keep: true, rx: make([]byte, 2048)}
}

func (f *fakeLink) Name() string         { return f.name }
func (f *fakeLink) MTU() int             { return f.mtu }
func (f *fakeLink) MAC() wire.MAC        { return mac(9) }
func (f *fakeLink) SetHandler(h Handler) { f.h = h }
func (f *fakeLink) Close() error         { f.closed = true; return nil }
func (f *fakeLink) handlerSet() bool     { return f.h != nil }

func (f *fakeLink) Send(frame []byte) error {
	if f.closed {
		return net.ErrClosed
	}
	if f.refuse != nil {
		return f.refuse
	}
	f.count++
	if f.keep {
		f.sent = append(f.sent, delivery{at: f.v.Now(), frame: bytes.Clone(frame)})
	}
	return nil
}

// inject delivers frame to the handler from the link's buffer, and then
// overwrites the buffer: a wrapper that keeps the slice sees garbage.
func (f *fakeLink) inject(frame []byte) {
	n := copy(f.rx, frame)
	if f.h != nil {
		f.h(f.rx[:n])
	}
	for i := range f.rx[:n] {
		f.rx[i] = 0xee
	}
}

// wrapRun is an Impaired link around a fakeLink on a virtual loop, with a
// handler that records what it gets.
type wrapRun struct {
	v    *clock.Virtual
	rec  *recSink
	link *fakeLink
	imp  *Impaired
	got  []delivery   // frames handed to the handler
	at   []clock.Time // send or inject time of each frame, by seq
}

func newWrap(t testing.TB, name string, seed uint64, out, in Impairment) *wrapRun {
	t.Helper()
	v := clock.NewVirtual()
	w := &wrapRun{v: v, rec: &recSink{}, link: newFakeLink(v, name)}
	var err error
	w.imp, err = NewImpaired(v, w.link, w.rec, seed, out, in)
	if err != nil {
		t.Fatal(err)
	}
	w.imp.SetHandler(func(f []byte) { w.got = append(w.got, delivery{at: v.Now(), frame: bytes.Clone(f)}) })
	return w
}

// send sends n frames from mac(1) to mac(2) through the wrapper, one every
// gap, numbered from the frames sent or injected so far.
func (w *wrapRun) send(t testing.TB, n, size int, gap time.Duration) {
	t.Helper()
	for range n {
		f := frame(mac(2), mac(1), uint32(len(w.at)), size)
		w.at = append(w.at, w.v.Now())
		if err := w.imp.Send(f); err != nil {
			t.Fatal(err)
		}
		for i := range f { // Send must have copied what it keeps
			f[i] = 0xdd
		}
		if gap > 0 {
			w.v.RunFor(gap)
		}
	}
}

// inject has the inner link receive n frames from mac(2) to mac(1).
func (w *wrapRun) inject(n, size int, gap time.Duration) {
	for range n {
		w.at = append(w.at, w.v.Now())
		w.link.inject(frame(mac(1), mac(2), uint32(len(w.at)-1), size))
		if gap > 0 {
			w.v.RunFor(gap)
		}
	}
}

func (w *wrapRun) finish() { w.v.RunFor(10 * time.Second) }

// pipeEvents returns the events an impairment pipe published (they carry a
// direction), as comparable lines.
func pipeEvents(events []observe.Event) []string {
	var out []string
	for _, e := range events {
		if e.Fields["dir"] == nil {
			continue
		}
		out = append(out, fmt.Sprintf("%d %s %s %s %s %q %x", e.TimeNS, e.Host, e.Layer, e.Kind, e.Reason, e.Summary, e.Frame))
	}
	return out
}

var wrapSpecs = []string{
	"loss=10%",
	"burst=5%/30%",
	"burst=5%/30%/80%/1%",
	"delay=2ms,jitter=1ms",
	"reorder=10%,reorder-delay=500us",
	"dup=10%",
	"corrupt=10%,corrupt-bits=3",
	"rate=10mbit,queue=4kb",
	"rate=50mbit,loss=5%,burst=2%/30%,delay=2ms,jitter=1ms,reorder=5%,dup=5%,corrupt=5%",
}

// The wrapper runs the switch's pipeline: around a link named like a switch
// port, with the same seed and impairment, it takes the same decisions at
// the same times, with the same events and counters, in both directions.
func TestImpairedMatchesSwitchPort(t *testing.T) {
	const n, size, gap = 2000, 200, 50 * time.Microsecond
	prop := DefaultPropagationDelay
	for _, spec := range wrapSpecs {
		imp, err := ParseImpairment(spec)
		if err != nil {
			t.Fatal(err)
		}
		t.Run("out/"+spec, func(t *testing.T) {
			// Switch: port b's Out direction, frames from a to b.
			r := newRun(t, 77, imp)
			r.send(t, n, size, gap)
			r.finish()
			// Wrapper around a link named lan/b: what its host sends.
			w := newWrap(t, "lan/b", 77, imp, Impairment{})
			w.v.RunFor(time.Millisecond) // start at the switch run's time
			w.send(t, n, size, gap)
			w.finish()
			if len(r.b.got) != len(w.link.sent) {
				t.Fatalf("switch delivered %d frames, wrapper sent %d", len(r.b.got), len(w.link.sent))
			}
			for k, d := range r.b.got {
				s := w.link.sent[k]
				if s.at != d.at-clock.Time(prop) || !bytes.Equal(s.frame, d.frame) {
					t.Fatalf("frame %d: wrapper sent seq %d at %v, switch delivered seq %d at %v (+%v)",
						k, seqOf(s.frame), s.at, seqOf(d.frame), d.at, prop)
				}
			}
			compareEvents(t, pipeEvents(r.rec.events), pipeEvents(w.rec.events))
			ps, ws := r.b.port.Stats(), w.imp.Stats().Out
			if !maps.Equal(ps.Drops, ws.Drops) || !maps.Equal(ps.Impaired, ws.Impaired) {
				t.Errorf("switch counters %v %v, wrapper %v %v", ps.Drops, ps.Impaired, ws.Drops, ws.Impaired)
			}
			if ws.Frames != n || ws.PassedFrames != uint64(len(w.link.sent)) {
				t.Errorf("wrapper out stats %+v", ws)
			}
			t.Logf("%s: %d of %d frames sent, %d events", spec, len(w.link.sent), n, len(w.rec.events))
		})
		t.Run("in/"+spec, func(t *testing.T) {
			// Switch: port b's In direction, frames from b to a.
			r := newRun(t, 78, Impairment{})
			if err := r.b.port.SetImpairment(In, imp); err != nil {
				t.Fatal(err)
			}
			for k := range n {
				mustSend(t, r.b.port, frame(mac(1), mac(2), uint32(k), size))
				r.v.RunFor(gap)
			}
			r.finish()
			// Wrapper around a link named lan/b: what its host receives.
			w := newWrap(t, "lan/b", 78, Impairment{}, imp)
			w.v.RunFor(time.Millisecond)
			w.inject(n, size, gap)
			w.finish()
			if len(r.a.got) != len(w.got) {
				t.Fatalf("switch delivered %d frames, wrapper %d", len(r.a.got), len(w.got))
			}
			for k, d := range r.a.got {
				g := w.got[k]
				if g.at != d.at-clock.Time(prop) || !bytes.Equal(g.frame, d.frame) {
					t.Fatalf("frame %d: wrapper delivered seq %d at %v, switch seq %d at %v (+%v)",
						k, seqOf(g.frame), g.at, seqOf(d.frame), d.at, prop)
				}
			}
			// The switch's events are about frames into the switch: its In.
			compareEvents(t, pipeEvents(r.rec.events), pipeEvents(w.rec.events))
			ps, ws := r.b.port.Stats(), w.imp.Stats().In
			if !maps.Equal(ps.Drops, ws.Drops) || !maps.Equal(ps.Impaired, ws.Impaired) {
				t.Errorf("switch counters %v %v, wrapper %v %v", ps.Drops, ps.Impaired, ws.Drops, ws.Impaired)
			}
			if ws.Frames != n || ws.PassedFrames != uint64(len(w.got)) {
				t.Errorf("wrapper in stats %+v", ws)
			}
		})
	}
}

func compareEvents(t *testing.T, sw, wr []string) {
	t.Helper()
	if len(sw) != len(wr) {
		t.Fatalf("switch published %d impairment events, wrapper %d", len(sw), len(wr))
	}
	for k := range sw {
		if sw[k] != wr[k] {
			t.Fatalf("event %d differs:\nswitch  %s\nwrapper %s", k, sw[k], wr[k])
		}
	}
}

// Delays are exact on the virtual clock in both directions, and frames are
// copied: the sender's slice and the link's receive buffer are reused.
func TestImpairedDelayExact(t *testing.T) {
	const out, in = 5 * time.Millisecond, 3 * time.Millisecond
	w := newWrap(t, "tap7", 1, Impairment{Delay: out}, Impairment{Delay: in})
	w.send(t, 1, 60, time.Millisecond)
	w.send(t, 1, 60, time.Millisecond) // at 1ms
	w.inject(1, 80, 0)                 // at 2ms
	w.v.RunUntil(clock.Time(out) - 1)
	if len(w.link.sent) != 0 || len(w.got) != 0 {
		t.Fatalf("before 5ms: %d sent, %d received", len(w.link.sent), len(w.got))
	}
	w.finish()
	if len(w.link.sent) != 2 || len(w.got) != 1 {
		t.Fatalf("%d sent, %d received; want 2 and 1", len(w.link.sent), len(w.got))
	}
	for k, want := range []clock.Time{clock.Time(out), clock.Time(time.Millisecond + out)} {
		s := w.link.sent[k]
		if s.at != want || !bytes.Equal(s.frame, frame(mac(2), mac(1), uint32(k), 60)) {
			t.Errorf("frame %d sent at %v (want %v): % x", k, s.at, want, s.frame[:18])
		}
	}
	g := w.got[0]
	if want := clock.Time(2*time.Millisecond + in); g.at != want || !bytes.Equal(g.frame, frame(mac(1), mac(2), 2, 80)) {
		t.Errorf("received at %v (want %v): % x", g.at, want, g.frame[:18])
	}
	ev := w.rec.find(observe.KindImpair, "")
	if len(ev) != 3 {
		t.Fatalf("%d impairment events, want 3", len(ev))
	}
	for k, want := range []struct {
		dir   string
		delay time.Duration
	}{{"out", out}, {"out", out}, {"in", in}} {
		e := ev[k]
		if e.Host != "tap7" || e.Layer != observe.LayerLink || e.Fields["dir"] != want.dir ||
			e.Fields["delay_ns"] != int64(want.delay) || e.Explain == "" ||
			!strings.HasSuffix(e.Summary, "("+want.dir+")") || !strings.HasPrefix(e.Summary, "delayed") {
			t.Errorf("event %d: %+v", k, e)
		}
	}
	st := w.imp.Stats()
	if st.Out.Frames != 2 || st.Out.Bytes != 120 || st.Out.PassedFrames != 2 || st.Out.PassedBytes != 120 ||
		st.Out.Impaired["delay"] != 2 || st.In.Frames != 1 || st.In.PassedBytes != 80 || st.In.Impaired["delay"] != 1 {
		t.Errorf("stats %+v", st)
	}
}

func TestImpairedLoss(t *testing.T) {
	const n = 10000
	w := newWrap(t, "tap7", 42, Impairment{Loss: 0.1}, Impairment{Loss: 0.3})
	w.send(t, n, 60, 10*time.Microsecond)
	w.inject(n, 60, 10*time.Microsecond)
	w.finish()
	out, in := len(w.link.sent), len(w.got)
	t.Logf("loss=10%% out: %d of %d sent; loss=30%% in: %d of %d received", out, n, in, n)
	// Binomial: sd 30 and 46 frames; the bounds are over 6 sd.
	if out < 8800 || out > 9200 || in < 6700 || in > 7300 {
		t.Fatalf("%d of %d frames through loss=10%%, %d through loss=30%%", out, n, in)
	}
	st := w.imp.Stats()
	if int(st.Out.Drops[DropLoss]) != n-out || int(st.In.Drops[DropLoss]) != n-in ||
		int(st.Out.PassedFrames) != out || int(st.In.PassedFrames) != in {
		t.Errorf("stats %+v", st)
	}
	var outEv, inEv int
	for _, e := range w.rec.find(observe.KindDrop, DropLoss) {
		if e.Host != "tap7" || len(e.Frame) != 60 || !strings.Contains(e.Summary, "random loss") {
			t.Fatalf("loss event %+v", e)
		}
		switch e.Fields["dir"] {
		case "out":
			outEv++
		case "in":
			inEv++
		}
	}
	if outEv != n-out || inEv != n-in {
		t.Errorf("%d out and %d in loss events for %d and %d losses", outEv, inEv, n-out, n-in)
	}
}

// Jitter varies the delay but never reorders, in either direction.
func TestImpairedJitterFIFO(t *testing.T) {
	const delay, jitter, n = 10 * time.Millisecond, 5 * time.Millisecond, 2000
	imp := Impairment{Delay: delay, Jitter: jitter}
	w := newWrap(t, "tap7", 3, imp, imp)
	w.send(t, n, 60, 100*time.Microsecond)
	w.inject(n, 60, 100*time.Microsecond)
	w.finish()
	for dir, got := range map[string][]delivery{"out": w.link.sent, "in": w.got} {
		if len(got) != n {
			t.Fatalf("%s: %d of %d frames", dir, len(got), n)
		}
		distinct := map[time.Duration]bool{}
		base := map[string]int{"out": 0, "in": n}[dir]
		for k, d := range got {
			s := int(seqOf(d.frame))
			if s != base+k {
				t.Fatalf("%s: frame %d in position %d: jitter reordered", dir, s, k)
			}
			lat := d.at.Sub(w.at[s])
			if lat < delay-jitter || lat > delay+jitter {
				t.Fatalf("%s: frame %d delayed %v, outside %v ± %v", dir, s, lat, delay, jitter)
			}
			distinct[lat] = true
		}
		if len(distinct) < n/2 {
			t.Errorf("%s: only %d distinct delays", dir, len(distinct))
		}
	}
}

// impairedDigest runs a mix of every impairment in both directions and hashes what
// happened: frames and times on both sides, and every event.
func impairedDigest(t *testing.T, seed uint64) uint64 {
	imp, err := ParseImpairment("rate=50mbit,loss=5%,burst=2%/30%,delay=2ms,jitter=1ms,reorder=5%,dup=5%,corrupt=5%")
	if err != nil {
		t.Fatal(err)
	}
	w := newWrap(t, "tap7", seed, imp, imp)
	for range 500 {
		w.send(t, 1, 200, 15*time.Microsecond)
		w.inject(1, 200, 15*time.Microsecond)
	}
	w.finish()
	h := fnv.New64a()
	for _, d := range append(append([]delivery(nil), w.link.sent...), w.got...) {
		binary.Write(h, binary.BigEndian, int64(d.at))
		h.Write(d.frame)
	}
	for _, e := range w.rec.events {
		binary.Write(h, binary.BigEndian, e.TimeNS)
		io.WriteString(h, e.Host+string(e.Kind)+e.Summary)
		h.Write(e.Frame)
	}
	if len(w.rec.events) < 500 {
		t.Fatalf("only %d events in the mixed run", len(w.rec.events))
	}
	return h.Sum64()
}

func TestImpairedSeeded(t *testing.T) {
	a, b, c := impairedDigest(t, 1), impairedDigest(t, 1), impairedDigest(t, 2)
	if a != b {
		t.Fatal("the same seed gave different decisions")
	}
	if a == c {
		t.Fatal("different seeds gave the same decisions")
	}
}

// The wrapper composes with any link: here one port of a two-port switch.
func TestImpairedWrapsSwitchPort(t *testing.T) {
	v := clock.NewVirtual()
	sw := NewSwitch(v, "lan", nil, 1)
	pa := sw.AddPort("a", mac(1), 1500)
	b := newHost(v, sw, "b", mac(2), 1500)
	const out, in = 5 * time.Millisecond, 2 * time.Millisecond
	a, err := NewImpaired(v, pa, nil, 1, Impairment{Delay: out}, Impairment{Delay: in})
	if err != nil {
		t.Fatal(err)
	}
	var got []delivery
	a.SetHandler(func(f []byte) { got = append(got, delivery{at: v.Now(), frame: bytes.Clone(f)}) })
	if a.Name() != "lan/a" || a.MTU() != 1500 || a.MAC() != mac(1) || a.Inner() != Link(pa) {
		t.Fatalf("name %q mtu %d mac %v", a.Name(), a.MTU(), a.MAC())
	}
	if err := a.Send(frame(mac(2), mac(1), 1, 60)); err != nil {
		t.Fatal(err)
	}
	mustSend(t, b.port, frame(mac(1), mac(2), 2, 60))
	v.RunFor(time.Second)
	prop := DefaultPropagationDelay
	if len(b.got) != 1 || b.got[0].at != clock.Time(out+prop) {
		t.Fatalf("b got %v, want one frame at %v", b.got, out+prop)
	}
	if len(got) != 1 || got[0].at != clock.Time(prop+in) || seqOf(got[0].frame) != 2 {
		t.Fatalf("a got %v, want frame 2 at %v", got, prop+in)
	}
}

// Zero impairment passes frames straight through, and the failures of the
// inner link, of sizes and of handlers are counted and reported.
func TestImpairedPassThroughAndErrors(t *testing.T) {
	w := newWrap(t, "tap7", 1, Impairment{}, Impairment{})
	f := frame(mac(2), mac(1), 1, 60)
	if err := w.imp.Send(f); err != nil || len(w.link.sent) != 1 || w.link.sent[0].at != 0 {
		t.Fatalf("zero impairment: Send %v, %d sent", err, len(w.link.sent))
	}
	w.link.inject(frame(mac(1), mac(2), 2, 60))
	if len(w.got) != 1 {
		t.Fatal("zero impairment: the received frame did not reach the handler at once")
	}
	if len(w.rec.events) != 0 {
		t.Errorf("zero impairment published %d events", len(w.rec.events))
	}
	// A refusal of the inner link: returned at once, or dropped later.
	refused := errors.New("link refuses")
	w.link.refuse = refused
	if err := w.imp.Send(f); !errors.Is(err, refused) {
		t.Fatalf("straight-through Send returned %v", err)
	}
	if err := w.imp.SetImpairment(Out, Impairment{Delay: time.Millisecond}); err != nil {
		t.Fatal(err)
	}
	if err := w.imp.Send(f); err != nil {
		t.Fatalf("delayed Send returned %v", err)
	}
	w.v.RunFor(time.Second)
	if st := w.imp.Stats().Out; st.Drops[DropSendFailed] != 2 || st.PassedFrames != 1 || st.Frames != 3 {
		t.Errorf("out stats %+v", st)
	}
	if ev := w.rec.find(observe.KindDrop, DropSendFailed); len(ev) != 2 || ev[1].Fields["error"] != refused.Error() ||
		ev[1].TimeNS != int64(time.Millisecond) || ev[1].Fields["dir"] != "out" {
		t.Errorf("send-failed events %+v", ev)
	}
	w.link.refuse = nil
	// Sizes.
	for _, size := range []int{13, 1515} {
		if err := w.imp.Send(make([]byte, size)); !errors.Is(err, ErrFrameSize) {
			t.Errorf("%d-byte frame: %v", size, err)
		}
	}
	if st := w.imp.Stats().Out; st.Drops[DropTooShort] != 1 || st.Drops[DropTooBig] != 1 || st.Frames != 3 {
		t.Errorf("size drops %+v", st)
	}
	if len(w.rec.find(observe.KindDrop, DropTooShort)) != 1 || len(w.rec.find(observe.KindDrop, DropTooBig)) != 1 {
		t.Error("size drops not reported")
	}
	// A frame in flight when the handler goes away.
	if err := w.imp.SetImpairment(In, Impairment{Delay: time.Millisecond}); err != nil {
		t.Fatal(err)
	}
	w.link.inject(frame(mac(1), mac(2), 3, 60))
	w.imp.SetHandler(nil)
	if w.link.handlerSet() {
		t.Error("SetHandler(nil) left the inner handler in place")
	}
	w.v.RunFor(time.Second)
	if st := w.imp.Stats().In; st.Drops[DropNoHandler] != 1 || len(w.got) != 1 {
		t.Errorf("in stats %+v, %d delivered", st, len(w.got))
	}
	if len(w.rec.find(observe.KindDrop, DropNoHandler)) != 1 {
		t.Error("no-handler drop not reported")
	}
}

// Close drops the frames in flight, closes the inner link, and Send fails.
func TestImpairedClose(t *testing.T) {
	w := newWrap(t, "tap7", 1, Impairment{Delay: time.Millisecond}, Impairment{Delay: time.Millisecond})
	w.send(t, 3, 60, 0)
	w.inject(2, 60, 0)
	if err := w.imp.Close(); err != nil {
		t.Fatal(err)
	}
	if !w.link.closed {
		t.Error("inner link not closed")
	}
	if err := w.imp.Send(frame(mac(2), mac(1), 9, 60)); !errors.Is(err, net.ErrClosed) {
		t.Errorf("Send after Close: %v", err)
	}
	// The frames in flight are dropped at the loop's next turn, before
	// they are due, and only once.
	for _, run := range []time.Duration{0, 10 * time.Second} {
		w.v.RunFor(run)
		st := w.imp.Stats()
		if len(w.link.sent) != 0 || len(w.got) != 0 || st.Out.Drops[DropClosed] != 3 || st.In.Drops[DropClosed] != 2 {
			t.Fatalf("%v after Close: %d sent, %d received, stats %+v", run, len(w.link.sent), len(w.got), st)
		}
	}
	if err := w.imp.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

// Impairments change at run time, per direction; invalid ones are refused.
func TestImpairedSetImpairment(t *testing.T) {
	w := newWrap(t, "tap7", 1, Impairment{}, Impairment{})
	w.send(t, 1, 60, 0)
	if err := w.imp.SetImpairment(Out, Impairment{Delay: 4 * time.Millisecond}); err != nil {
		t.Fatal(err)
	}
	w.send(t, 1, 60, 0)
	if err := w.imp.SetImpairment(Out, Impairment{Loss: 1.5}); !errors.Is(err, ErrBadImpairment) ||
		!strings.Contains(err.Error(), "tap7 out") {
		t.Fatalf("invalid impairment: %v", err)
	}
	if w.imp.Impairment(Out).Delay != 4*time.Millisecond || !w.imp.Impairment(In).IsZero() {
		t.Fatalf("impairments %v / %v", w.imp.Impairment(Out), w.imp.Impairment(In))
	}
	w.inject(1, 60, 0)
	w.finish()
	if len(w.link.sent) != 2 || w.link.sent[0].at != 0 || w.link.sent[1].at != clock.Time(4*time.Millisecond) {
		t.Fatalf("sent %v", w.link.sent)
	}
	if len(w.got) != 1 || w.got[0].at != 0 {
		t.Fatalf("the In direction changed too: %v", w.got)
	}
}

func TestNewImpairedErrors(t *testing.T) {
	v := clock.NewVirtual()
	l := newFakeLink(v, "tap7")
	if _, err := NewImpaired(nil, l, nil, 1, Impairment{}, Impairment{}); err == nil {
		t.Error("no loop accepted")
	}
	if _, err := NewImpaired(v, nil, nil, 1, Impairment{}, Impairment{}); err == nil {
		t.Error("no inner link accepted")
	}
	_, err := NewImpaired(v, l, nil, 1, Impairment{}, Impairment{Delay: -time.Second})
	if !errors.Is(err, ErrBadImpairment) || !strings.Contains(err.Error(), "tap7 in: impair: delay=-1s") {
		t.Errorf("bad In impairment: %v", err)
	}
	_, err = NewImpaired(v, l, nil, 1, Impairment{Dup: 2}, Impairment{})
	if !errors.Is(err, ErrBadImpairment) || !strings.Contains(err.Error(), "tap7 out: impair: dup=") {
		t.Errorf("bad Out impairment: %v", err)
	}
}

// BenchmarkImpairedFrame measures one 1514-byte frame sent through the
// wrapper, straight through (none) and copied, delayed and timed.
func BenchmarkImpairedFrame(b *testing.B) {
	for _, spec := range []string{"none", "delay=1ms,jitter=100us,loss=1%"} {
		b.Run(spec, func(b *testing.B) {
			imp, err := ParseImpairment(spec)
			if err != nil {
				b.Fatal(err)
			}
			v := clock.NewVirtual()
			l := newFakeLink(v, "tap7")
			l.keep = false
			w, err := NewImpaired(v, l, observe.Discard, 1, imp, Impairment{})
			if err != nil {
				b.Fatal(err)
			}
			f := frame(mac(2), mac(1), 1, 1514)
			b.ReportAllocs()
			b.SetBytes(int64(len(f)))
			for b.Loop() {
				if err := w.Send(f); err != nil {
					b.Fatal(err)
				}
				v.RunFor(10 * time.Microsecond)
			}
			v.RunFor(time.Second)
			if l.count == 0 {
				b.Fatal("nothing sent")
			}
		})
	}
}
