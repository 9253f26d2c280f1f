package stack_test

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"net/netip"
	"os"
	"testing"
	"time"

	"github.com/tipy/tipy/observe"
	"github.com/tipy/tipy/stack"
	"github.com/tipy/tipy/stack/clock"
	"github.com/tipy/tipy/stack/wire"
	"github.com/tipy/tipy/tap"
)

var updateEvents = flag.Bool("update-events", false, "rewrite testdata/scripted_events.jsonl.gz from this build's events")

const goldenEvents = "testdata/scripted_events.jsonl.gz"

// collectEvents keeps every event published, numbered as a bus would.
type collectEvents struct{ events []observe.Event }

func (c *collectEvents) Active() bool { return true }
func (c *collectEvents) Publish(e observe.Event) {
	e.Seq = uint64(len(c.events) + 1)
	c.events = append(c.events, e)
}

// scriptedRun is a seeded run on a virtual clock that makes the stacks
// build events of every kind a transfer makes: a and b on a switch that
// delays, loses, reorders and duplicates frames; a bulk TCP transfer to a
// receiver that reads in bursts (zero windows, window
// updates, persist probes, retransmissions, recovery, congestion phases);
// a connection refused; UDP to a closed port and through a gateway that
// does not forward; closes and TIME-WAIT. It returns every event.
func scriptedRun(t *testing.T) []observe.Event {
	t.Helper()
	loop := clock.NewVirtual()
	sink := &collectEvents{}
	sw := tap.NewSwitch(loop, "lan", sink, 11)
	var hosts [2]*stack.Stack
	for i, name := range []string{"a", "b"} {
		mac := wire.MAC{0x02, 0, 0, 0, 9, byte(i + 1)}
		port := sw.AddPort(name, mac, 1500)
		imp, err := tap.ParseImpairment([]string{"loss=1.5%,delay=2ms,reorder=2%,dup=0.5%", "loss=1%,delay=2ms"}[i])
		if err != nil {
			t.Fatal(err)
		}
		if err := port.SetImpairment(tap.Out, imp); err != nil {
			t.Fatal(err)
		}
		cfg := stack.Config{Name: name, MAC: mac, Addr: netip.MustParsePrefix(fmt.Sprintf("10.0.9.%d/24", i+1)), Seed: 9}
		if i == 0 {
			cfg.Gateway = netip.MustParseAddr("10.0.9.2")
		}
		s, err := stack.New(cfg, port, loop, sink)
		if err != nil {
			t.Fatal(err)
		}
		hosts[i] = s
	}
	a, b := hosts[0], hosts[1]
	loop.RunFor(10 * time.Second) // address conflict probes (RFC 5227)
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	ls, _ := b.Socket(stack.AF_INET, stack.SOCK_STREAM, 0)
	ls.SetTimeout(0)
	must(ls.Bind(netip.MustParseAddrPort("0.0.0.0:9")))
	must(ls.Listen(1))
	// Refused: nobody listens on port 10.
	r, _ := a.Socket(stack.AF_INET, stack.SOCK_STREAM, 0)
	r.SetTimeout(0)
	r.Connect(netip.MustParseAddrPort("10.0.9.2:10"))
	// UDP to a closed port, and off the network through b.
	u, _ := a.Socket(stack.AF_INET, stack.SOCK_DGRAM, 0)
	u.SetTimeout(0)
	u.SendTo([]byte("hello <&>"), netip.MustParseAddrPort("10.0.9.2:4000"))
	u.SendTo([]byte("far away"), netip.MustParseAddrPort("10.7.0.1:4000"))

	c, _ := a.Socket(stack.AF_INET, stack.SOCK_STREAM, 0)
	c.SetTimeout(0)
	c.Connect(netip.MustParseAddrPort("10.0.9.2:9")) // EINPROGRESS
	var srv *stack.Socket
	for range 5000 {
		loop.RunFor(time.Millisecond)
		var err error
		if srv, _, err = ls.Accept(); err == nil {
			break
		}
	}
	if srv == nil {
		t.Fatalf("no connection: %v", c.Info())
	}
	srv.SetTimeout(0)
	const size = 600 << 10
	chunk := make([]byte, 32<<10)
	for i := range chunk {
		chunk[i] = byte(i * 7)
	}
	sent, received := 0, 0
	for step := 0; received < size; step++ {
		if step > 200000 {
			t.Fatalf("transfer stuck at %d of %d bytes", received, size)
		}
		for sent < size {
			n, err := c.Send(chunk[:min(len(chunk), size-sent)])
			if err != nil {
				break
			}
			sent += n
		}
		loop.RunFor(time.Millisecond)
		if step%100 >= 97 { // the application reads in bursts: the window closes between them
			for {
				d, err := srv.Recv(1 << 20)
				if err != nil || len(d) == 0 {
					break
				}
				received += len(d)
			}
		}
	}
	must(c.Close())
	loop.RunFor(50 * time.Millisecond)
	must(srv.Close())
	ls.Close()
	r.Close()
	u.Close()
	loop.RunFor(3 * time.Minute)
	return sink.events
}

// eventLines writes events as JSON lines through encoding/json, each
// frame replaced by its SHA-256.
func eventLines(t *testing.T, evs []observe.Event) [][]byte {
	t.Helper()
	type line struct {
		observe.Event
		FrameSHA string `json:"frame_sha256,omitempty"`
	}
	out := make([][]byte, len(evs))
	for i, e := range evs {
		l := line{Event: e}
		if e.Frame != nil {
			sum := sha256.Sum256(e.Frame)
			l.FrameSHA = hex.EncodeToString(sum[:])
			l.Frame = nil
		}
		b, err := json.Marshal(l)
		if err != nil {
			t.Fatal(err)
		}
		out[i] = b
	}
	return out
}

// The events of a scripted run are exactly those the stacks made before
// their builders were optimised: every summary, explanation, RFC, reason,
// field and frame, in order. Rewrite the file with -update-events only
// when an event's content is meant to change.
func TestScriptedEventsUnchanged(t *testing.T) {
	evs := scriptedRun(t)
	kinds := map[string]int{}
	for _, e := range evs {
		kinds[string(e.Layer)+"/"+string(e.Kind)]++
	}
	for _, k := range []string{"link/tx", "link/rx", "link/drop", "ipv4/route", "ipv4/tx", "ipv4/rx", "tcp/tx", "tcp/rx", "tcp/sample",
		"tcp/timer", "tcp/info", "tcp/state", "tcp/drop", "udp/drop", "icmp/tx", "arp/tx"} {
		if kinds[k] == 0 {
			t.Errorf("the scripted run made no %s event: %v", k, kinds)
		}
	}
	got := eventLines(t, evs)
	if again := eventLines(t, scriptedRun(t)); len(again) != len(got) {
		t.Fatalf("the scripted run is not deterministic: %d events, then %d", len(got), len(again))
	} else {
		for i := range got {
			if !bytes.Equal(got[i], again[i]) {
				t.Fatalf("the scripted run is not deterministic at event %d:\n%s\n%s", i+1, got[i], again[i])
			}
		}
	}
	if *updateEvents {
		var buf bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
		for _, l := range got {
			zw.Write(l)
			zw.Write([]byte{'\n'})
		}
		must(t, zw.Close())
		must(t, os.MkdirAll("testdata", 0o755))
		must(t, os.WriteFile(goldenEvents, buf.Bytes(), 0o644))
		t.Logf("wrote %d events (%v) to %s", len(got), kinds, goldenEvents)
		return
	}
	f, err := os.Open(goldenEvents)
	if err != nil {
		t.Fatalf("%v (create it with -update-events)", err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(zr)
	sc.Buffer(nil, 1<<20)
	i := 0
	for ; sc.Scan(); i++ {
		if i >= len(got) {
			t.Fatalf("the run made %d events, the file has more: next %s", len(got), sc.Bytes())
		}
		if !bytes.Equal(sc.Bytes(), got[i]) {
			t.Fatalf("event %d differs:\nwant %s\ngot  %s", i+1, sc.Bytes(), got[i])
		}
	}
	must(t, sc.Err())
	if i != len(got) {
		t.Fatalf("the run made %d events, the file has %d: next %s", len(got), i, got[i])
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
