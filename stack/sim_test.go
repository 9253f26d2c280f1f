package stack_test

import (
	"bytes"
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/tipy/tipy/observe"
	"github.com/tipy/tipy/stack"
	"github.com/tipy/tipy/stack/clock"
	"github.com/tipy/tipy/stack/wire"
	"github.com/tipy/tipy/tap"
)

// etherTypeTest is the IEEE "local experimental" EtherType: the stack
// skeleton carries it only because the test registers a handler for it.
const etherTypeTest wire.EtherType = 0x88b5

type arrival struct {
	host    string
	at      clock.Time
	from    wire.MAC
	payload string
}

// threeHosts runs three stacks on one virtual switch whose ports lose,
// reorder and duplicate frames, all from seed, and returns the recorded trace
// and what each host received.
func threeHosts(t *testing.T, seed uint64) ([]byte, []arrival) {
	t.Helper()
	loop := clock.NewVirtual()
	bus := observe.NewBus(observe.BusOptions{})
	sw := tap.NewSwitch(loop, "lan", bus, seed)
	imp, err := tap.ParseImpairment("loss=10%,reorder=20%,reorder-delay=3ms,dup=10%,delay=1ms,jitter=500us")
	if err != nil {
		t.Fatal(err)
	}
	names := []string{"alpha", "beta", "gamma"}
	var hosts []observe.HostInfo
	var stacks []*stack.Stack
	var got []arrival
	for i, name := range names {
		cfg := stack.Config{
			Name: name,
			MAC:  wire.MAC{0x02, 0, 0, 0, 0, byte(i + 1)},
			Addr: netip.MustParsePrefix(fmt.Sprintf("10.0.0.%d/24", i+1)),
			Seed: seed,
		}
		port := sw.AddPort(name, cfg.MAC, 1500)
		if err := port.SetImpairmentBoth(imp); err != nil {
			t.Fatal(err)
		}
		s, err := stack.New(cfg, port, loop, bus)
		if err != nil {
			t.Fatal(err)
		}
		s.Handle(etherTypeTest, func(now clock.Time, _ *stack.Iface, f wire.Ethernet) {
			got = append(got, arrival{name, now, f.Src(), string(f.Payload())})
		})
		stacks = append(stacks, s)
		hosts = append(hosts, observe.HostInfo{Name: name, MAC: cfg.MAC.String(), Addresses: []string{cfg.Addr.String()}, MTU: 1500, Link: port.Name()})
	}
	var trace bytes.Buffer
	rec, err := observe.NewRecorder(bus, &trace, observe.TraceHeader{
		Format: observe.TraceFormat, Version: observe.TraceVersion, Seed: seed, Hosts: hosts, Mode: "test",
	}, observe.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	// 300 frames, one every millisecond, round robin: unicast to the next
	// host, every fifth one broadcast.
	for i := 0; i < 300; i++ {
		src := stacks[i%3]
		dst := stacks[(i+1)%3].Config().MAC
		if i%5 == 0 {
			dst = wire.BroadcastMAC
		}
		payload := fmt.Sprintf("frame %d from %s", i, src.Name())
		loop.Schedule(clock.Time(i)*clock.Time(time.Millisecond), func() {
			p := stack.NewPacket(stack.Headroom, len(payload))
			copy(p.Payload(), payload)
			if err := src.SendFrame(loop.Now(), dst, etherTypeTest, p); err != nil {
				t.Errorf("send: %v", err)
			}
		})
	}
	loop.RunFor(time.Second)
	if err := rec.Close(); err != nil {
		t.Fatal(err)
	}
	if rec.Missed() != 0 {
		t.Fatalf("recorder missed %d events", rec.Missed())
	}
	return trace.Bytes(), got
}

func TestThreeHostsDeterministicTrace(t *testing.T) {
	a, gotA := threeHosts(t, 7)
	b, _ := threeHosts(t, 7)
	c, _ := threeHosts(t, 8)
	if !bytes.Equal(a, b) {
		t.Fatalf("same seed gave different traces (%d vs %d bytes)", len(a), len(b))
	}
	if bytes.Equal(a, c) {
		t.Fatal("different seeds gave the same trace")
	}
	// The impairments really acted, and were traced.
	for _, reason := range []string{`"reason":"loss"`, `"kind":"impair"`} {
		if !bytes.Contains(a, []byte(reason)) {
			t.Errorf("trace has no %s event", reason)
		}
	}
	// Every arrival is an intact frame that was sent to that host; some were
	// lost, some duplicated, some reordered.
	seen := map[string]int{}
	reordered := false
	last := map[string]int{}
	for _, g := range gotA {
		var n int
		var from string
		if _, err := fmt.Sscanf(g.payload, "frame %d from %s", &n, &from); err != nil {
			t.Fatalf("%s received a damaged payload %q", g.host, g.payload)
		}
		if from == g.host {
			t.Fatalf("%s received its own frame %d", g.host, n)
		}
		if n%5 != 0 && []string{"alpha", "beta", "gamma"}[(n+1)%3] != g.host {
			t.Fatalf("%s received unicast frame %d meant for another host", g.host, n)
		}
		key := g.host + "/" + g.payload
		seen[key]++
		if p, ok := last[g.host+from]; ok && n < p {
			reordered = true
		}
		last[g.host+from] = n
	}
	// 300 frames: 240 unicast to one host, 60 broadcast to two: 360 deliveries
	// on a perfect network.
	dups := 0
	for _, c := range seen {
		if c > 1 {
			dups++
		}
	}
	if len(seen) >= 360 || len(seen) < 200 {
		t.Errorf("%d distinct deliveries of 360 with 10%% loss each way", len(seen))
	}
	if dups == 0 || !reordered {
		t.Errorf("duplicates %d, reordered %v: impairments did not act", dups, reordered)
	}
	if !strings.HasPrefix(string(a), `{"format":"tipy-trace","version":1`) {
		t.Errorf("trace does not start with the header: %.80s", a)
	}
}
