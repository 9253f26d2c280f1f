package web

import (
	"context"
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/tipy/tipy/observe"
	"github.com/tipy/tipy/stack/lab"
)

// newExperimentLab serves the built-in lab (tipy, peer, gw, far) with its
// experiment runner, its clock at 10 virtual seconds per real second. The
// returned subscription has seen every event since before the lab started.
func newExperimentLab(t *testing.T) (*testLab, *observe.Subscription) {
	t.Helper()
	bus := observe.NewBus(observe.BusOptions{})
	all := bus.Subscribe(observe.Filter{}, 1<<20)
	n, err := lab.Builtin(lab.Options{Seed: 3, Bus: bus, Speed: 10})
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Start(); err != nil {
		n.Close()
		t.Fatal(err)
	}
	srv, err := New(Config{Hosts: n.Stacks(), Bus: bus, Lab: NewVirtualLab(n.Loop(), 3, n.Ports()...), Experiments: lab.NewRunner(n, bus, lab.All()),
		Seed: 3, RecordDir: t.TempDir(), MaxWait: time.Minute})
	if err != nil {
		n.Close()
		t.Fatal(err)
	}
	l := &testLab{loop: n.Loop(), bus: bus, srv: srv, ts: httptest.NewServer(srv)}
	t.Cleanup(func() {
		l.ts.Close()
		srv.Close()
		all.Close()
		n.Close()
	})
	return l, all
}

// seen drains sub and returns the events it holds by seq.
func seen(t *testing.T, sub *observe.Subscription, into map[uint64]observe.Event) {
	t.Helper()
	for {
		e, ok := sub.TryNext()
		if !ok {
			return
		}
		if e.Kind == observe.KindGap {
			t.Fatalf("the test's subscription missed events: %v", e.Fields)
		}
		into[e.Seq] = e
	}
}

func TestExperimentsListAndRun(t *testing.T) {
	l, all := newExperimentLab(t)
	m := l.must(t, 200, "GET", "/api/v1/experiments", nil)
	list := m["experiments"].([]any)
	if len(list) != len(lab.All()) {
		t.Fatalf("%d experiments listed, the lab has %d", len(list), len(lab.All()))
	}
	var arp map[string]any
	for _, x := range list {
		x := x.(map[string]any)
		for _, k := range []string{"id", "title", "topic", "explain"} {
			if s, _ := x[k].(string); s == "" {
				t.Fatalf("experiment without %s: %v", k, x)
			}
		}
		if len(x["look"].([]any)) == 0 || len(x["proof"].([]any)) == 0 || x["last_run"] != nil {
			t.Fatalf("experiment %v: look, proof, and no run yet expected", x["id"])
		}
		if x["id"] == "arp-queue" {
			arp = x
		}
	}
	if arp == nil || arp["topic"] != "ARP" {
		t.Fatalf("no arp-queue experiment: %v", list)
	}
	look := arp["look"].([]any)[0].(map[string]any)
	if look["page"] != "frames" || look["layers"] != "arp,udp" || look["text"] == "" {
		t.Fatalf("arp-queue's first pointer: %v", look)
	}

	// Run it and wait: passed, and every proof names the events that proved
	// it, events that the bus really carried and that match the proof.
	r := l.do(t, "POST", "/api/v1/experiments", map[string]any{"id": "arp-queue", "wait": true})
	if r.status != 201 || r.header.Get("Location") != "/api/v1/experiments/arp-queue" {
		t.Fatalf("run with wait: %d %q %s", r.status, r.header.Get("Location"), r.body)
	}
	run := r.json(t)
	if run["status"] != lab.StatusPassed || run["experiment"] != "arp-queue" || len(run["steps"].([]any)) < 2 {
		t.Fatalf("run: %s", r.body)
	}
	first, last := uint64(run["first_seq"].(float64)), uint64(run["last_seq"].(float64))
	if first == 0 || last <= first {
		t.Fatalf("run spans seqs %d..%d", first, last)
	}
	events := map[uint64]observe.Event{}
	seen(t, all, events)
	var seqs []string
	for _, p := range run["proofs"].([]any) {
		p := p.(map[string]any)
		want := 1
		if c, ok := p["count"].(float64); ok {
			want = int(c)
		}
		ps, _ := p["seqs"].([]any)
		if p["passed"] != true || len(ps) != want || p["seen"].(float64) < float64(want) {
			t.Fatalf("proof %q: %v", p["text"], p)
		}
		for _, s := range ps {
			seq := uint64(s.(float64))
			e, ok := events[seq]
			if !ok {
				t.Fatalf("proof %q: seq %d was never published", p["text"], seq)
			}
			if seq < first || seq > last || string(e.Layer) != p["layer"] || e.Host != p["host"] || !strings.Contains(e.Summary, p["summary"].(string)) {
				t.Fatalf("proof %q: seq %d is %s %s %q (run %d..%d)", p["text"], seq, e.Host, e.Layer, e.Summary, first, last)
			}
			seqs = append(seqs, fmt.Sprint(seq))
		}
	}
	// The run's start and end markers are lab events of the stream.
	if e := events[first]; e.Layer != observe.LayerLab || e.Fields["experiment"] != "arp-queue" || !strings.Contains(e.Summary, "started") {
		t.Fatalf("first event of the run: %+v", e)
	}

	got := l.must(t, 200, "GET", "/api/v1/experiments/arp-queue", nil)
	lr, _ := got["last_run"].(map[string]any)
	if lr == nil || lr["status"] != lab.StatusPassed || lr["run"] != run["run"] || fmt.Sprint(lr["proofs"]) != fmt.Sprint(run["proofs"]) {
		t.Fatalf("last_run: %v\nrun: %v", got["last_run"], run)
	}

	// The dashboard can fetch the proving events by seq, however far the
	// ring has moved on (here it has not: they come from either place).
	var ev map[string]any
	for range 100 {
		ev = l.must(t, 200, "GET", "/ui/events?seqs="+strings.Join(seqs, ","), nil)["events"].(map[string]any)
		if len(ev) == len(seqs) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	for _, s := range seqs {
		e, ok := ev[s].(map[string]any)
		if !ok || fmt.Sprint(e["seq"]) != s || e["layer"] != "arp" {
			t.Fatalf("GET /ui/events: seq %s: %v", s, ev)
		}
	}
	// The server keeps them after they left the ring.
	var proofSeq uint64
	fmt.Sscan(seqs[0], &proofSeq)
	if e, ok := l.srv.proofs.get(proofSeq); !ok || e.Layer != observe.LayerARP {
		t.Fatalf("proof event %d not kept: %+v", proofSeq, e)
	}
}

func TestExperimentsBusyAndErrors(t *testing.T) {
	l, _ := newExperimentLab(t)
	r := l.do(t, "POST", "/api/v1/experiments", map[string]any{"id": "arp-queue"})
	if r.status != 202 {
		t.Fatalf("start: %d %s", r.status, r.body)
	}
	run := r.json(t)
	if run["status"] != lab.StatusRunning || run["run"] == nil {
		t.Fatalf("started run: %s", r.body)
	}
	// A second run while the first goes on: 409 busy.
	if r := l.do(t, "POST", "/api/v1/experiments", map[string]any{"id": "arp-queue", "wait": true}); r.status != 409 || r.errCode(t) != CodeBusy {
		t.Fatalf("second run: %d %s", r.status, r.body)
	}
	if m := l.must(t, 200, "GET", "/api/v1/experiments/arp-queue", nil); m["last_run"].(map[string]any)["run"] != run["run"] {
		t.Fatalf("last_run of a running experiment: %v", m["last_run"])
	}
	for _, c := range []struct {
		body any
		want int
		code string
		text string
	}{
		{map[string]any{"id": "no-such"}, 404, CodeNotFound, "no-such"},
		{map[string]any{}, 400, CodeBadRequest, "id is required"},
		{`{"id":`, 400, CodeBadRequest, "malformed JSON"},
		{"", 400, CodeBadRequest, "empty"},
		{map[string]any{"id": "arp-queue", "speed": 2}, 400, CodeBadRequest, "unknown field"},
		{map[string]any{"id": 7}, 400, CodeBadRequest, "wrong type"},
		{map[string]any{"id": "arp-queue", "wait": true, "timeout_ms": -1}, 400, CodeBadRequest, "timeout_ms"},
		{map[string]any{"id": "arp-queue", "timeout_ms": 10}, 400, CodeBadRequest, "wait"},
	} {
		r := l.do(t, "POST", "/api/v1/experiments", c.body)
		if r.status != c.want || r.errCode(t) != c.code || !strings.Contains(r.errMessage(t), c.text) {
			t.Fatalf("POST %v: %d %s (want %d %s %q)", c.body, r.status, r.body, c.want, c.code, c.text)
		}
	}
	if r := l.do(t, "GET", "/api/v1/experiments/no-such", nil); r.status != 404 || r.errCode(t) != CodeNotFound {
		t.Fatalf("GET unknown: %d %s", r.status, r.body)
	}
	// The first run finishes; then a run that waits too little answers 202
	// with the run still going, and the next caller waits for its end.
	waitStatus(t, l, "arp-queue", run["run"])
	r = l.do(t, "POST", "/api/v1/experiments", map[string]any{"id": "arp-queue", "wait": true, "timeout_ms": 0})
	if r.status != 202 || r.json(t)["status"] != lab.StatusRunning {
		t.Fatalf("wait 0 ms: %d %s", r.status, r.body)
	}
	if m := waitStatus(t, l, "arp-queue", r.json(t)["run"]); m["status"] != lab.StatusPassed {
		t.Fatalf("second run: %v", m)
	}
}

// waitStatus polls experiment id until run has ended and returns it.
func waitStatus(t *testing.T, l *testLab, id string, run any) map[string]any {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for ctx.Err() == nil {
		lr, _ := l.must(t, 200, "GET", "/api/v1/experiments/"+id, nil)["last_run"].(map[string]any)
		if lr != nil && lr["run"] == run && lr["status"] != lab.StatusRunning {
			return lr
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("run %v of %s did not end", run, id)
	return nil
}

// Outside the lab, the experiments answer 404 like the lab's controls.
func TestExperimentsOutsideLab(t *testing.T) {
	l := newTestLab(t, func(c *Config) { c.Lab = nil; c.Mode = ModeTAP })
	for _, c := range [][2]string{{"GET", "/api/v1/experiments"}, {"GET", "/api/v1/experiments/arp-queue"}, {"POST", "/api/v1/experiments"}} {
		r := l.do(t, c[0], c[1], map[string]any{"id": "arp-queue"})
		if c[0] == "GET" {
			r = l.do(t, c[0], c[1], nil)
		}
		if r.status != 404 || r.errCode(t) != CodeNotFound || !strings.Contains(r.errMessage(t), "lab mode") {
			t.Fatalf("%s %s outside the lab: %d %s", c[0], c[1], r.status, r.body)
		}
	}
}

// GET /ui/events finds events by seq in the frame store and the bus's ring,
// and leaves out those kept nowhere.
func TestEventsBySeq(t *testing.T) {
	l := newTestLab(t, nil)
	sub := l.bus.Subscribe(observe.Filter{}, 16) // the ring fills while someone listens
	defer sub.Close()
	l.bus.Publish(observe.Event{Host: "lab", Layer: observe.LayerLab, Kind: observe.KindInfo, Summary: "marker one"})
	first := l.bus.Stats().Published
	l.bus.Publish(observe.Event{Host: "lab", Layer: observe.LayerLab, Kind: observe.KindInfo, Summary: "marker two"})
	l.srv.frames.put(observe.Event{Seq: first + 1000, Host: "a", Layer: observe.LayerLink, Kind: observe.KindTX, Summary: "tx 3 bytes", Frame: []byte{1, 2, 3}})
	q := fmt.Sprintf("/ui/events?seqs=%d,%d,%d,%d", first, first+1, first+1000, first+5000)
	ev := l.must(t, 200, "GET", q, nil)["events"].(map[string]any)
	if len(ev) != 3 {
		t.Fatalf("want 3 events (the last is kept nowhere): %v", ev)
	}
	if e := ev[fmt.Sprint(first)].(map[string]any); e["summary"] != "marker one" {
		t.Fatalf("event %d from the ring: %v", first, e)
	}
	if e := ev[fmt.Sprint(first+1000)].(map[string]any); e["has_frame"] != true || e["frame"] != nil {
		t.Fatalf("a frame event comes without its bytes: %v", e)
	}
	if m := l.must(t, 200, "GET", "/ui/events", nil); len(m["events"].(map[string]any)) != 0 {
		t.Fatalf("no seqs: %v", m)
	}
	for _, bad := range []string{"x", "0", "1,,2", strings.Repeat("1,", maxEventLookups) + "1"} {
		if r := l.do(t, "GET", "/ui/events?seqs="+bad, nil); r.status != 400 || r.errCode(t) != CodeBadRequest {
			t.Fatalf("seqs=%.20s: %d %s", bad, r.status, r.body)
		}
	}
}
