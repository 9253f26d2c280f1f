package tap

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"math"
	"math/bits"
	"strings"
	"testing"
	"time"

	"github.com/tipy/tipy/observe"
	"github.com/tipy/tipy/stack/clock"
)

// run is n frames sent from host a to host b through a two-port switch,
// one every gap, with imp on b's Out direction.
type run struct {
	v    *clock.Virtual
	sw   *Switch
	rec  *recSink
	a, b *host
	sent [][]byte
	at   []clock.Time // send time of each frame, by seq
}

func newRun(t testing.TB, seed uint64, imp Impairment) *run {
	t.Helper()
	v := clock.NewVirtual()
	r := &run{v: v, rec: &recSink{}}
	r.sw = NewSwitch(v, "lan", r.rec, seed)
	r.a = newHost(v, r.sw, "a", mac(1), 1500)
	r.b = newHost(v, r.sw, "b", mac(2), 1500)
	// Let the switch learn b, so that frames to it are not flooded.
	mustSend(t, r.b.port, frame(mac(1), mac(2), 0, 60))
	v.RunFor(time.Millisecond)
	r.a.got, r.rec.events = nil, nil
	if err := r.b.port.SetImpairment(Out, imp); err != nil {
		t.Fatal(err)
	}
	return r
}

func (r *run) send(t testing.TB, n, size int, gap time.Duration) {
	t.Helper()
	for range n {
		f := frame(mac(2), mac(1), uint32(len(r.sent)), size)
		r.sent = append(r.sent, f)
		r.at = append(r.at, r.v.Now())
		mustSend(t, r.a.port, f)
		if gap > 0 {
			r.v.RunFor(gap)
		}
	}
}

func (r *run) finish() { r.v.RunFor(10 * time.Second) }

func TestImpairLoss(t *testing.T) {
	r := newRun(t, 42, Impairment{Loss: 0.1})
	const n = 10000
	r.send(t, n, 60, 10*time.Microsecond)
	r.finish()
	got := len(r.b.got)
	t.Logf("loss=10%%: %d of %d frames delivered", got, n)
	// Binomial(10000, 0.9): sd 30 frames; the bound is over 6 sd.
	if got < 8800 || got > 9200 {
		t.Fatalf("%d of %d frames got through loss=10%%, want about 9000", got, n)
	}
	st := r.b.port.Stats()
	if int(st.Drops[DropLoss]) != n-got {
		t.Errorf("loss drops %d, want %d", st.Drops[DropLoss], n-got)
	}
	ev := r.rec.find(observe.KindDrop, DropLoss)
	if len(ev) != n-got {
		t.Fatalf("%d loss events, want %d", len(ev), n-got)
	}
	e := ev[0]
	if e.Host != "lan/b" || e.Layer != observe.LayerLink || e.Fields["dir"] != "out" ||
		!strings.Contains(e.Summary, "dropped 60-byte frame: random loss 10%") || len(e.Frame) != 60 || e.Explain == "" {
		t.Errorf("loss event %+v", e)
	}
}

func TestImpairBurstLoss(t *testing.T) {
	g := GilbertElliott{P: 0.01, R: 0.25, LossBad: 1}
	r := newRun(t, 7, Impairment{Burst: g})
	const n = 100000
	for range n / 100 { // in batches, so that buffers are recycled
		r.send(t, 100, 60, 0)
		r.v.RunFor(time.Millisecond)
	}
	r.finish()
	// Gaps in the received sequence are the loss bursts.
	var bursts, lost int
	next := uint32(0)
	for _, d := range r.b.got {
		s := seqOf(d.frame)
		if s != next {
			bursts++
			lost += int(s - next)
		}
		next = s + 1
	}
	if next != n {
		bursts++
		lost += int(n - next)
	}
	mean := float64(lost) / float64(bursts)
	t.Logf("burst=1%%/25%%: %d lost in %d bursts, mean burst %.2f frames", lost, bursts, mean)
	// About 960 bursts of geometric length (sd 3.5): the standard error of
	// the mean is 0.11 frames, the bound 4.5 times that.
	if math.Abs(mean-1/g.R) > 0.5 {
		t.Fatalf("mean burst length %.2f over %d bursts, want about %.1f", mean, bursts, 1/g.R)
	}
	rate := float64(lost) / n
	if want := g.P / (g.P + g.R); math.Abs(rate-want) > 0.006 {
		t.Errorf("loss rate %.4f, want about %.4f", rate, want)
	}
	if len(r.rec.find(observe.KindDrop, DropBurstLoss)) != lost {
		t.Errorf("burst-loss events != %d losses", lost)
	}
	// The same loss rate from independent losses comes in bursts of about 1.
	r2 := newRun(t, 7, Impairment{Loss: rate})
	for range n / 500 {
		r2.send(t, 100, 60, 0)
		r2.v.RunFor(time.Millisecond)
	}
	r2.finish()
	bursts, lost, next = 0, 0, 0
	for _, d := range r2.b.got {
		if s := seqOf(d.frame); s != next {
			bursts++
			lost += int(s - next)
			next = s
		}
		next++
	}
	if m := float64(lost) / float64(bursts); m > 1.2 {
		t.Errorf("independent loss: mean burst %.2f, want about 1", m)
	}
}

func TestImpairDelayJitterFIFO(t *testing.T) {
	const delay, jitter = 10 * time.Millisecond, 5 * time.Millisecond
	r := newRun(t, 3, Impairment{Delay: delay, Jitter: jitter})
	const n = 2000
	r.send(t, n, 60, 100*time.Microsecond)
	r.finish()
	if len(r.b.got) != n {
		t.Fatalf("%d of %d frames delivered", len(r.b.got), n)
	}
	prop := DefaultPropagationDelay
	distinct := map[time.Duration]bool{}
	var sum time.Duration
	for i, d := range r.b.got {
		s := seqOf(d.frame)
		if s != uint32(i) {
			t.Fatalf("frame %d delivered in position %d: jitter reordered", s, i)
		}
		lat := d.at.Sub(r.at[s]) - prop
		if lat < delay-jitter || lat > delay+jitter {
			t.Fatalf("frame %d delayed %v, outside %v ± %v", s, lat, delay, jitter)
		}
		distinct[lat] = true
		sum += lat
	}
	if len(distinct) < n/2 {
		t.Errorf("only %d distinct delays: jitter has no effect", len(distinct))
	}
	// FIFO holds frames behind the slower ones ahead of them, so with
	// frames this close together the mean is above delay.
	if mean := sum / n; mean < delay || mean > delay+jitter {
		t.Errorf("mean delay %v, want between %v and %v", mean, delay, delay+jitter)
	}
	ev := r.rec.find(observe.KindImpair, "")
	if len(ev) != n || ev[0].Fields["delay_ns"] == nil || !strings.Contains(ev[0].Summary, "delayed 60-byte frame") {
		t.Errorf("%d delay events, want %d; first %+v", len(ev), n, ev[0])
	}
}

func TestImpairReorder(t *testing.T) {
	r := newRun(t, 5, Impairment{Reorder: 0.1, ReorderDelay: time.Millisecond})
	const n = 10000
	r.send(t, n, 60, 100*time.Microsecond)
	r.finish()
	if len(r.b.got) != n {
		t.Fatalf("%d of %d frames delivered", len(r.b.got), n)
	}
	held := r.b.port.Stats().Impaired["reorder"]
	t.Logf("reorder=10%%: %d of %d frames held back", held, n)
	if held < 850 || held > 1150 {
		t.Fatalf("%d frames held back, want about 1000", held)
	}
	// A held-back frame arrives after frames sent later than it.
	late := 0
	maxSeen := -1
	for _, d := range r.b.got {
		s := int(seqOf(d.frame))
		if s < maxSeen {
			late++
		}
		maxSeen = max(maxSeen, s)
	}
	if late == 0 || uint64(late) > held {
		t.Fatalf("%d frames arrived after a later one; %d were held back", late, held)
	}
	ev := r.rec.find(observe.KindImpair, "")
	if uint64(len(ev)) != held || ev[0].Fields["hold_ns"] != int64(time.Millisecond) {
		t.Errorf("%d reorder events for %d held frames; first %+v", len(ev), held, ev[0])
	}
}

func TestImpairDuplicate(t *testing.T) {
	r := newRun(t, 9, Impairment{Dup: 0.05})
	const n = 10000
	r.send(t, n, 60, 10*time.Microsecond)
	r.finish()
	dups := int(r.b.port.Stats().Impaired["dup"])
	t.Logf("dup=5%%: %d duplicates of %d frames", dups, n)
	if dups < 400 || dups > 600 {
		t.Fatalf("%d duplicates of %d frames, want about 500", dups, n)
	}
	if len(r.b.got) != n+dups {
		t.Fatalf("%d deliveries, want %d frames + %d duplicates", len(r.b.got), n, dups)
	}
	seen := 0
	for i := 1; i < len(r.b.got); i++ {
		if bytes.Equal(r.b.got[i].frame, r.b.got[i-1].frame) {
			seen++
		}
	}
	if seen != dups {
		t.Errorf("%d back-to-back copies, want %d", seen, dups)
	}
	if len(r.rec.find(observe.KindImpair, "")) != dups {
		t.Error("not one event per duplicate")
	}
}

func TestImpairCorrupt(t *testing.T) {
	for _, nbits := range []int{0, 3} {
		t.Run(fmt.Sprintf("bits=%d", nbits), func(t *testing.T) {
			r := newRun(t, 11, Impairment{Corrupt: 0.02, CorruptBits: nbits})
			const n = 5000
			r.send(t, n, 100, 10*time.Microsecond)
			r.finish()
			if len(r.b.got) != n {
				t.Fatalf("%d of %d delivered", len(r.b.got), n)
			}
			events := r.rec.find(observe.KindImpair, "")
			want := max(nbits, 1)
			bad := 0
			for i, d := range r.b.got {
				flipped := 0
				var pos []int
				for j := range d.frame {
					x := d.frame[j] ^ r.sent[i][j]
					flipped += bits.OnesCount8(x)
					for b := 0; b < 8; b++ {
						if x&(0x80>>b) != 0 {
							pos = append(pos, j*8+b)
						}
					}
				}
				if flipped == 0 {
					continue
				}
				if flipped != want {
					t.Fatalf("frame %d: %d bits flipped, want %d", i, flipped, want)
				}
				if bad >= len(events) {
					t.Fatalf("corrupted frame %d without an event", i)
				}
				e := events[bad]
				bad++
				if !bytes.Equal(e.Frame, r.sent[i]) {
					t.Fatalf("event %d is not about frame %d", bad, i)
				}
				recorded := append([]int(nil), e.Fields["bits"].([]int)...)
				if len(recorded) != want || e.Fields["bit"] != recorded[0] {
					t.Fatalf("event fields %v", e.Fields)
				}
				for _, p := range pos {
					found := false
					for _, q := range recorded {
						found = found || p == q
					}
					if !found {
						t.Fatalf("frame %d: bit %d flipped, event recorded %v", i, p, recorded)
					}
				}
			}
			if bad != len(events) || bad < 60 || bad > 140 {
				t.Fatalf("%d corrupted frames, %d events; want about 100", bad, len(events))
			}
		})
	}
}

func TestImpairRateTiming(t *testing.T) {
	// 8 Mbit/s is one byte per microsecond: a 1000-byte frame takes 1 ms.
	r := newRun(t, 1, Impairment{Rate: 8_000_000, Queue: 1_000_000})
	r.send(t, 50, 1000, 0) // a burst at t=0
	r.finish()
	if len(r.b.got) != 50 {
		t.Fatalf("%d of 50 delivered", len(r.b.got))
	}
	for i, d := range r.b.got {
		want := r.at[0].Add(time.Duration(i+1)*time.Millisecond + DefaultPropagationDelay)
		if d.at != want {
			t.Fatalf("frame %d delivered at %v, want %v", i, d.at, want)
		}
	}
	if n := len(r.rec.find(observe.KindImpair, "")); n != 49 {
		t.Errorf("%d queueing events, want 49 (all but the first frame waited)", n)
	}
}

func TestImpairRateThroughput(t *testing.T) {
	// Offer twice the rate for one second: the link delivers its rate and
	// the queue overflows.
	r := newRun(t, 1, Impairment{Rate: 8_000_000})
	r.send(t, 2000, 1000, 500*time.Microsecond)
	var bytesBy1s int
	for _, d := range r.b.got {
		if d.at <= r.at[0].Add(time.Second) {
			bytesBy1s += len(d.frame)
		}
	}
	t.Logf("8mbit offered 16mbit: %d bytes delivered in 1s, %d tail drops", bytesBy1s, r.b.port.Stats().Drops[DropQueueFull])
	if bytesBy1s < 998_000 || bytesBy1s > 1_000_000 {
		t.Fatalf("%d bytes delivered in the first second at 8mbit, want about 1,000,000", bytesBy1s)
	}
	if r.b.port.Stats().Drops[DropQueueFull] == 0 {
		t.Error("no tail drops at twice the rate")
	}
}

func TestImpairQueueTailDrop(t *testing.T) {
	r := newRun(t, 1, Impairment{Rate: 8_000_000, Queue: 10_000})
	r.send(t, 20, 1000, 0)
	r.finish()
	if len(r.b.got) != 10 {
		t.Fatalf("%d delivered, want 10 (a 10kb queue of 1000-byte frames)", len(r.b.got))
	}
	for i, d := range r.b.got {
		if seqOf(d.frame) != uint32(i) {
			t.Fatalf("position %d holds frame %d: the tail should be dropped", i, seqOf(d.frame))
		}
	}
	ev := r.rec.find(observe.KindDrop, DropQueueFull)
	if r.b.port.Stats().Drops[DropQueueFull] != 10 || len(ev) != 10 {
		t.Fatalf("drops %v, %d events", r.b.port.Stats().Drops, len(ev))
	}
	if ev[0].Fields["backlog_bytes"] != 10_000 {
		t.Errorf("first tail drop saw a backlog of %v, want 10000", ev[0].Fields["backlog_bytes"])
	}
	// Once the queue has drained, frames pass again.
	r.send(t, 1, 1000, 0)
	r.finish()
	if len(r.b.got) != 11 {
		t.Fatalf("frame after drain not delivered")
	}
}

// The In direction acts on what the port's host sends, not on what it gets.
func TestImpairDirection(t *testing.T) {
	v := clock.NewVirtual()
	sw := NewSwitch(v, "lan", nil, 1)
	a := newHost(v, sw, "a", mac(1), 1500)
	b := newHost(v, sw, "b", mac(2), 1500)
	if err := a.port.SetImpairment(In, Impairment{Loss: 1}); err != nil {
		t.Fatal(err)
	}
	mustSend(t, a.port, frame(mac(2), mac(1), 1, 60))
	mustSend(t, b.port, frame(mac(1), mac(2), 2, 60))
	v.RunFor(time.Second)
	if len(a.got) != 1 || len(b.got) != 0 {
		t.Fatalf("a got %d, b got %d; want 1 and 0", len(a.got), len(b.got))
	}
	if a.port.Stats().Drops[DropLoss] != 1 {
		t.Error("loss not counted on the sending port")
	}
	if err := a.port.SetImpairmentBoth(Impairment{Loss: 2}); !errors.Is(err, ErrBadImpairment) {
		t.Fatalf("invalid impairment accepted: %v", err)
	}
	if err := a.port.SetImpairment(Out, Impairment{Jitter: 1 << 62}); !errors.Is(err, ErrBadImpairment) {
		t.Fatalf("huge jitter accepted: %v", err)
	}
	if err := a.port.SetImpairment(Out, Impairment{Dup: math.NaN()}); !errors.Is(err, ErrBadImpairment) {
		t.Fatalf("NaN dup accepted: %v", err)
	}
	if a.port.Impairment(In).Loss != 1 || a.port.Impairment(Out).Loss != 0 {
		t.Fatal("a rejected impairment changed the port")
	}
}

// decisions runs a mix of every impairment and returns a digest of what
// happened (delivery times and bytes, event times and summaries) and the
// set of event summaries' first words.
func decisions(t *testing.T, seed uint64) (uint64, map[string]bool) {
	imp, err := ParseImpairment("rate=50mbit,loss=5%,burst=2%/30%,delay=2ms,jitter=1ms,reorder=5%,dup=5%,corrupt=5%")
	if err != nil {
		t.Fatal(err)
	}
	r := newRun(t, seed, imp)
	if err := r.a.port.SetImpairment(In, imp); err != nil {
		t.Fatal(err)
	}
	r.send(t, 1000, 200, 30*time.Microsecond)
	r.finish()
	h := fnv.New64a()
	for _, d := range r.b.got {
		binary.Write(h, binary.BigEndian, int64(d.at))
		h.Write(d.frame)
	}
	kinds := map[string]bool{}
	for _, e := range r.rec.events {
		binary.Write(h, binary.BigEndian, e.TimeNS)
		io.WriteString(h, e.Host+string(e.Kind)+e.Summary)
		kinds[strings.Fields(e.Summary)[0]] = true
	}
	return h.Sum64(), kinds
}

func TestImpairSeeded(t *testing.T) {
	a, kinds := decisions(t, 1)
	b, _ := decisions(t, 1)
	c, _ := decisions(t, 2)
	if a != b {
		t.Fatal("the same seed gave different decisions")
	}
	if a == c {
		t.Fatal("different seeds gave the same decisions")
	}
	for _, kind := range []string{"dropped", "link", "delayed", "held", "duplicated", "flipped", "queued"} {
		if !kinds[kind] {
			t.Errorf("no %q event in the mixed run; got %v", kind, kinds)
		}
	}
}

func TestParseImpairment(t *testing.T) {
	valid := []struct {
		spec string
		want Impairment
	}{
		{"", Impairment{}},
		{"none", Impairment{}},
		{"loss=1%", Impairment{Loss: 0.01}},
		{"loss=1%,delay=10ms,jitter=2ms,dup=0.5%,reorder=5%,corrupt=0.1%,rate=20mbit",
			Impairment{Loss: 0.01, Delay: 10 * time.Millisecond, Jitter: 2 * time.Millisecond, Dup: 0.005,
				Reorder: 0.05, Corrupt: 0.001, Rate: 20_000_000}},
		{"rate=1.5mbit, queue=64kb", Impairment{Rate: 1_500_000, Queue: 64_000}},
		{"rate=100kbit,queue=32kib", Impairment{Rate: 100_000, Queue: 32 << 10}},
		{"rate=1gbit,queue=2mib", Impairment{Rate: 1_000_000_000, Queue: 2 << 20}},
		{"rate=9600bit,queue=1500b", Impairment{Rate: 9600, Queue: 1500}},
		{"burst=1%/25%", Impairment{Burst: GilbertElliott{P: 0.01, R: 0.25, LossBad: 1}}},
		{"burst=1%/25%/80%", Impairment{Burst: GilbertElliott{P: 0.01, R: 0.25, LossBad: 0.8}}},
		{"burst=1%/25%/80%/0.1%", Impairment{Burst: GilbertElliott{P: 0.01, R: 0.25, LossBad: 0.8, LossGood: 0.001}}},
		{"reorder=7%,reorder-delay=250us", Impairment{Reorder: 0.07, ReorderDelay: 250 * time.Microsecond}},
		{"corrupt=100%,corrupt-bits=3", Impairment{Corrupt: 1, CorruptBits: 3}},
		{"LOSS=0%", Impairment{}},
		{"delay=1.5s", Impairment{Delay: 1500 * time.Millisecond}},
	}
	for _, tc := range valid {
		got, err := ParseImpairment(tc.spec)
		if err != nil {
			t.Errorf("ParseImpairment(%q): %v", tc.spec, err)
			continue
		}
		if got != tc.want {
			t.Errorf("ParseImpairment(%q) = %+v, want %+v", tc.spec, got, tc.want)
		}
		back, err := ParseImpairment(got.String())
		if err != nil || back != got {
			t.Errorf("round trip of %q via %q: %+v, %v", tc.spec, got.String(), back, err)
		}
	}
	if s := (Impairment{Loss: 0.01, Delay: 10 * time.Millisecond, Rate: 20_000_000}).String(); s != "rate=20mbit,loss=1%,delay=10ms" {
		t.Errorf("String = %q", s)
	}

	invalid := []struct{ spec, want string }{
		{"loss=120%", "impair: loss=120%: must be between 0% and 100%"},
		{"loss=1", "impair: loss=1: want a percentage"},
		{"loss=-1%", "impair: loss=-1%: must be between 0% and 100%"},
		{"loss=x%", "impair: loss=x%: want a number"},
		{"delay=10", "impair: delay=10: want a duration"},
		{"delay=-5ms", "impair: delay=-5ms: must not be negative"},
		{"jitter=fast", "impair: jitter=fast: want a duration"},
		{"jitter=2h", "impair: jitter=2h: must be at most 1h0m0s"},
		{"rate=20", "impair: rate=20: want a rate"},
		{"rate=20mbps", "impair: rate=20mbps: want a rate"},
		{"rate=0.5bit", "impair: rate=0.5bit: must be a whole number"},
		{"queue=64kb", "impair: queue=64kb: a queue needs a rate limit"},
		{"rate=1mbit,queue=lots", "impair: queue=lots: want a size"},
		{"burst=1%", "impair: burst=1%: want P/R"},
		{"burst=1%/2%/3%/4%/5%", "impair: burst=1%/2%/3%/4%/5%: want P/R"},
		{"burst=1%/x", "impair: burst=1%/x: want a percentage such as 1% or 0.5% in part 2"},
		{"burst=0%/50%", "impair: burst=0%/50%: P, the probability"},
		{"corrupt-bits=0", "impair: corrupt-bits=0: must be between 1 and 64"},
		{"corrupt-bits=two", "impair: corrupt-bits=two: want a whole number"},
		{"wobble=3%", "impair: wobble=3%: unknown key"},
		{"loss", `impair: "loss": want key=value`},
		{"loss=1%,,dup=1%", `impair: "": want key=value`},
		{"loss=1%,loss=2%", "impair: loss=2%: given more than once"},
	}
	for _, tc := range invalid {
		_, err := ParseImpairment(tc.spec)
		if err == nil {
			t.Errorf("ParseImpairment(%q) succeeded", tc.spec)
			continue
		}
		if !strings.HasPrefix(err.Error(), tc.want) {
			t.Errorf("ParseImpairment(%q) error %q, want prefix %q", tc.spec, err, tc.want)
		}
		if !errors.Is(err, ErrBadImpairment) {
			t.Errorf("ParseImpairment(%q) error does not wrap ErrBadImpairment", tc.spec)
		}
	}
}

// Formatting a fraction as a percentage must give the same fraction back.
func TestImpairPercentRoundTrip(t *testing.T) {
	for _, p := range []float64{0.07, 0.001, 1.0 / 3, 0.123456789, 1e-9, 1, 0.1, 0, 5e-324} {
		s := impFormatPercent(p)
		v, err := impParsePercent(s)
		if err != nil || v != p {
			t.Errorf("%v -> %q -> %v, %v", p, s, v, err)
		}
	}
	for p, want := range map[float64]string{0.07: "7%", 0.1: "10%", 1: "100%", 0.005: "0.5%", 0: "0%", 1e-7: "0.00001%"} {
		if s := impFormatPercent(p); s != want {
			t.Errorf("%v formats as %q, want %q", p, s, want)
		}
	}
}
