package web

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tipy/tipy/observe"
	"github.com/tipy/tipy/stack"
	"github.com/tipy/tipy/stack/clock"
	"github.com/tipy/tipy/stack/wire"
	"github.com/tipy/tipy/tap"
)

// collectSink keeps every event published, numbered as a bus would.
type collectSink struct{ events []observe.Event }

func (c *collectSink) Active() bool { return true }
func (c *collectSink) Publish(e observe.Event) {
	e.Seq = uint64(len(c.events) + 1)
	c.events = append(c.events, e)
}

// scriptedEvents moves size bytes over TCP from a to b, two stacks on a
// virtual switch whose port of a loses frames as impair says, driven on a
// virtual clock as fast as it goes, then closes the connection; it
// returns every event of the run (link, ARP, IPv4, TCP segments, samples,
// timers, drops, impairments).
func scriptedEvents(t testing.TB, size int, impair string) []observe.Event {
	t.Helper()
	loop := clock.NewVirtual()
	sink := &collectSink{}
	sw := tap.NewSwitch(loop, "lan", sink, 3)
	var hosts [2]*stack.Stack
	for i, name := range []string{"a", "b"} {
		mac := wire.MAC{0x02, 0, 0, 0, 9, byte(i + 1)}
		port := sw.AddPort(name, mac, 1500)
		if i == 0 && impair != "" {
			imp, err := tap.ParseImpairment(impair)
			if err != nil {
				t.Fatal(err)
			}
			if err := port.SetImpairment(tap.Out, imp); err != nil {
				t.Fatal(err)
			}
		}
		s, err := stack.New(stack.Config{Name: name, MAC: mac, Addr: netip.MustParsePrefix(fmt.Sprintf("10.0.9.%d/24", i+1)), Seed: 5,
			ARP: stack.ARPConfig{NoProbe: true}}, port, loop, sink)
		if err != nil {
			t.Fatal(err)
		}
		hosts[i] = s
	}
	ls, _ := hosts[1].Socket(stack.AF_INET, stack.SOCK_STREAM, 0)
	ls.SetTimeout(0)
	if err := ls.Bind(netip.MustParseAddrPort("0.0.0.0:9")); err != nil {
		t.Fatal(err)
	}
	if err := ls.Listen(1); err != nil {
		t.Fatal(err)
	}
	c, _ := hosts[0].Socket(stack.AF_INET, stack.SOCK_STREAM, 0)
	c.SetTimeout(0)
	c.Connect(netip.MustParseAddrPort("10.0.9.2:9")) // EINPROGRESS
	var srv *stack.Socket
	for range 1000 {
		loop.RunFor(time.Millisecond)
		var err error
		if srv, _, err = ls.Accept(); err == nil {
			break
		}
	}
	if srv == nil {
		t.Fatal("no connection")
	}
	srv.SetTimeout(0)
	chunk := make([]byte, 64<<10)
	sent, received := 0, 0
	for step := 0; received < size; step++ {
		if step > 1e6 {
			t.Fatalf("transfer stuck at %d of %d bytes", received, size)
		}
		for sent < size {
			n, err := c.Send(chunk[:min(len(chunk), size-sent)])
			if err != nil {
				break
			}
			sent += n
		}
		loop.RunFor(100 * time.Microsecond)
		for {
			d, err := srv.Recv(1 << 20)
			if err != nil || len(d) == 0 {
				break
			}
			received += len(d)
		}
	}
	c.Close()
	srv.Close()
	ls.Close()
	loop.RunFor(5 * time.Second)
	return sink.events
}

// refStreamMessage is the message of the stream as it was first written:
// frames stripped and kept, samples coalesced through a key string, the
// []StreamEvent marshalled by encoding/json.
func refStreamMessage(evs []observe.Event, keepFrame func(observe.Event)) (msg []byte, sent, merged int, err error) {
	key := func(e *observe.Event) string {
		names := make([]string, 0, len(e.Fields))
		for k := range e.Fields {
			names = append(names, k)
		}
		slices.Sort(names)
		return e.Host + "\x00" + string(e.Layer) + "\x00" + e.Conn + "\x00" + strings.Join(names, ",")
	}
	keep := make([]bool, len(evs))
	counts, last := map[string]int{}, map[string]int{}
	for i := len(evs) - 1; i >= 0; i-- {
		e := &evs[i]
		if e.Kind != observe.KindSample {
			keep[i] = true
			continue
		}
		k := key(e)
		if _, seen := last[k]; !seen {
			last[k] = i
			keep[i] = true
		} else {
			counts[k]++
		}
	}
	out := make([]StreamEvent, 0, len(evs))
	for i := range evs {
		if !keep[i] {
			merged++
			continue
		}
		e := evs[i]
		if len(e.Frame) > 0 {
			keepFrame(e)
		}
		se := streamEvent(e)
		if e.Kind == observe.KindSample {
			se.Coalesced = counts[key(&e)]
		}
		out = append(out, se)
	}
	msg, err = json.Marshal(out)
	return msg, len(out), merged, err
}

// checkBatches encodes evs in batches of the given sizes with one encoder
// (buffers reused) and compares every message, count and kept frame with
// refStreamMessage's.
func checkBatches(t *testing.T, evs []observe.Event, sizes []int) {
	t.Helper()
	var enc batchEncoder
	for i, k := 0, 0; i < len(evs); k++ {
		n := min(sizes[k%len(sizes)], len(evs)-i)
		batch := evs[i : i+n]
		i += n
		var wantFrames, gotFrames []uint64
		want, wsent, wmerged, err := refStreamMessage(batch, func(e observe.Event) { wantFrames = append(wantFrames, e.Seq) })
		if err != nil {
			t.Fatal(err)
		}
		var w pieces
		sent, merged, err := enc.encode(&w, batch, func(e observe.Event) {
			if len(e.Frame) == 0 {
				t.Fatalf("event %d kept as a frame has no frame", e.Seq)
			}
			gotFrames = append(gotFrames, e.Seq)
		})
		if err != nil {
			t.Fatal(err)
		}
		got := bytes.Join(w.p, nil)
		for j, p := range w.p {
			if len(p) == 0 || len(p) > flushAt+maxEventJSON || (j < len(w.p)-1 && len(p) < flushAt) {
				t.Fatalf("batch %d: piece %d of %d is %d bytes", k, j, len(w.p), len(p))
			}
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("batch %d (%d events): messages differ\nencoding/json: %.2000s\nencoder:       %.2000s", k, n, want, got)
		}
		if sent != wsent || merged != wmerged || !slices.Equal(gotFrames, wantFrames) {
			t.Fatalf("batch %d: sent %d merged %d frames %v, want %d, %d, %v", k, sent, merged, gotFrames, wsent, wmerged, wantFrames)
		}
		for j := range batch {
			if batch[j].Seq != evs[i-n+j].Seq || (batch[j].Frame == nil) != (evs[i-n+j].Frame == nil) {
				t.Fatal("the encoder changed the batch")
			}
		}
	}
}

// pieces keeps each Write as a piece of its own.
type pieces struct{ p [][]byte }

func (w *pieces) Write(p []byte) (int, error) {
	w.p = append(w.p, bytes.Clone(p))
	return len(p), nil
}

// maxEventJSON bounds the JSON of one event of these tests.
const maxEventJSON = 8 << 10

// The encoder writes the very bytes encoding/json wrote for the events of
// a real transfer with losses, in batches of many sizes.
func TestStreamEncodeTransfer(t *testing.T) {
	evs := scriptedEvents(t, 2<<20, "loss=2%")
	kinds := map[string]int{}
	for _, e := range evs {
		kinds[string(e.Layer)+"/"+string(e.Kind)]++
	}
	for _, k := range []string{"link/tx", "link/rx", "ipv4/tx", "tcp/rx", "tcp/tx", "tcp/sample", "tcp/timer", "link/drop"} {
		if kinds[k] == 0 {
			t.Fatalf("the transfer published no %s event: %v", k, kinds)
		}
	}
	checkBatches(t, evs, []int{1024, 1, 7, 64, 1000, 3})
}

// Random events: odd strings, odd values, samples of a few series with
// clashing field names, frames, values JSON cannot carry.
func TestStreamEncodeRandom(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 5))
	strs := []string{"", "a", "b", "<&>", "x,y", "\u2028", "\xff", "tab\t", `"q"`, "10.0.9.1:5001-10.0.9.2:9"}
	pick := func() string { return strs[r.IntN(len(strs))] }
	evs := make([]observe.Event, 5000)
	for i := range evs {
		e := observe.Event{Seq: uint64(i + 1), TimeNS: r.Int64N(1e12), Host: pick(), Layer: observe.Layer(pick()), Summary: pick(),
			Conn: pick(), Explain: pick(), RFC: pick(), Reason: pick()}
		e.Kind = []observe.Kind{observe.KindSample, observe.KindSample, observe.KindTX, observe.KindGap}[r.IntN(4)]
		if r.IntN(5) > 0 {
			e.Fields = map[string]any{}
			for n := r.IntN(4); n > 0; n-- {
				var v any
				switch r.IntN(5) {
				case 0:
					v = r.Float64() * 1e3
				case 1:
					v = pick()
				case 2:
					v = []any{uint16(r.IntN(1 << 16)), nil, map[string]any{pick(): 1}}
				case 3:
					v = time.Duration(r.Int64N(1e9))
				default:
					v = r.IntN(100) - 50
				}
				e.Fields[pick()] = v
			}
		}
		if r.IntN(3) == 0 {
			e.Frame = []byte(pick() + "frame")
		}
		evs[i] = e
	}
	checkBatches(t, evs, []int{1024, 13, 1, 200})
}

// A value JSON cannot carry (a NaN) does not end the stream: the event
// goes with a note in place of its fields, and the message stays JSON.
func TestStreamEncodeUnencodable(t *testing.T) {
	var enc batchEncoder
	evs := []observe.Event{
		{Seq: 1, Kind: observe.KindInfo, Summary: "fine", Fields: map[string]any{"x": 1}},
		{Seq: 2, Kind: observe.KindSample, Summary: "odd", Fields: map[string]any{"rtt": math.NaN()}, Frame: []byte{1}},
	}
	var msg bytes.Buffer
	sent, _, err2 := enc.encode(&msg, evs, func(observe.Event) {})
	var out []StreamEvent
	if err := json.Unmarshal(msg.Bytes(), &out); err != nil || sent != 2 || len(out) != 2 {
		t.Fatalf("message %s: %v (%v)", msg.Bytes(), err, err2)
	}
	if out[0].Fields["x"] != 1.0 || out[1].Summary != "odd" || !out[1].HasFrame ||
		!strings.Contains(fmt.Sprint(out[1].Fields["unencodable"]), "NaN") {
		t.Fatalf("decoded %+v", out)
	}
	if _, ok := evs[1].Fields["rtt"]; !ok || evs[1].Frame == nil {
		t.Fatal("the encoder changed the event it was given")
	}
}

// benchBatch is a full message's worth of the events of a transfer.
func benchBatch(b *testing.B) []observe.Event {
	evs := scriptedEvents(b, 4<<20, "")
	if len(evs) < DefaultBatchMax {
		b.Fatalf("only %d events", len(evs))
	}
	return evs[len(evs)/2:][:DefaultBatchMax]
}

// BenchmarkStreamEncode: one message of the stream (1024 events of a bulk
// transfer), as the stream encodes it now.
func BenchmarkStreamEncode(b *testing.B) {
	evs := benchBatch(b)
	var enc batchEncoder
	var w countWriter
	b.ReportAllocs()
	for b.Loop() {
		w = 0
		if _, _, err := enc.encode(&w, evs, func(observe.Event) {}); err != nil {
			b.Fatal(err)
		}
		b.SetBytes(int64(w))
	}
}

// BenchmarkStreamEncodeReflect: the same message through []StreamEvent
// and encoding/json, as the stream first did.
func BenchmarkStreamEncodeReflect(b *testing.B) {
	evs := benchBatch(b)
	b.ReportAllocs()
	for b.Loop() {
		msg, _, _, err := refStreamMessage(evs, func(observe.Event) {})
		if err != nil {
			b.Fatal(err)
		}
		b.SetBytes(int64(len(msg)))
	}
}

// countWriter counts what is written to it.
type countWriter int

func (w *countWriter) Write(p []byte) (int, error) {
	*w += countWriter(len(p))
	return len(p), nil
}

// A write that fails ends the message at once, with the writer's error.
func TestStreamEncodeWriteError(t *testing.T) {
	evs := scriptedEvents(t, 1<<20, "")
	var enc batchEncoder
	_, _, err := enc.encode(failWriter{}, evs[:DefaultBatchMax], func(observe.Event) {})
	if err != errWrite {
		t.Fatalf("error %v", err)
	}
}

var errWrite = errors.New("write failed")

type failWriter struct{}

func (failWriter) Write([]byte) (int, error) { return 0, errWrite }
