//go:build linux

package tap_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/tipy/tipy/observe"
	"github.com/tipy/tipy/stack/wire"
	"github.com/tipy/tipy/tap"
	"github.com/tipy/tipy/tap/netnstest"
)

// pollUntil checks cond every 100 µs and returns the time it first held; it
// fails the test, naming what, when it still does not after timeout. The
// short interval keeps the returned time close to the moment cond became
// true.
func pollUntil(t *testing.T, timeout time.Duration, what string, cond func() bool) time.Time {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		if cond() {
			return time.Now()
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %v still waiting for %s", timeout, what)
		}
		time.Sleep(100 * time.Microsecond)
	}
}

// TestImpairedTAPDelay impairs a real TAP device: a 20 ms delay on the Out
// direction shows in the time between tipy's Send and the kernel seeing the
// frame, and one on the In direction in the time between the kernel sending
// a frame and tipy's handler getting it.
func TestImpairedTAPDelay(t *testing.T) {
	const delay = 20 * time.Millisecond
	ns := netnstest.New(t)
	w := runWall(t)
	dev := ns.OpenTAP(t, "tipy0", w, tap.TAPConfig{MAC: tipyMAC, Up: true})
	ns.Addr(t, "tipy0", kernelCIDR)
	sniff := ns.Sniff(t, "tipy0")
	ev := &sink{}
	imp, err := tap.NewImpaired(w, dev, ev, 1, tap.Impairment{}, tap.Impairment{})
	if err != nil {
		t.Fatal(err)
	}
	var (
		mu    sync.Mutex
		arpAt time.Time // when the handler got the kernel's ARP request for tipy
	)
	imp.SetHandler(func(f []byte) {
		if a, ok := parseARP(f); ok && a.op == 1 && a.tpa == tipyIP {
			mu.Lock()
			if arpAt.IsZero() {
				arpAt = time.Now()
			}
			mu.Unlock()
		}
	})

	// Out: time from Send to the sniffer seeing frame k, which the kernel
	// drops after that (local experimental EtherType).
	sendLatency := func(k uint32) time.Duration {
		f := make([]byte, 60)
		copy(f, wire.BroadcastMAC[:])
		copy(f[6:], tipyMAC[:])
		binary.BigEndian.PutUint16(f[12:14], 0x88b5)
		copy(f[14:], "tipy impaired")
		binary.BigEndian.PutUint32(f[28:32], k)
		start := time.Now()
		var err error
		w.Call(func() { err = imp.Send(f) })
		if err != nil {
			t.Fatalf("Send: %v", err)
		}
		seen := pollUntil(t, waitFor, "the kernel seeing frame", func() bool {
			for _, g := range sniff.Frames() {
				if !g.Outgoing && bytes.Equal(g.Data, f) {
					return true
				}
			}
			return false
		})
		return seen.Sub(start)
	}
	const samples = 5
	base := time.Hour
	for k := range uint32(samples) {
		base = min(base, sendLatency(k))
	}
	w.Call(func() { err = imp.SetImpairment(tap.Out, tap.Impairment{Delay: delay}) })
	if err != nil {
		t.Fatal(err)
	}
	var lats []time.Duration
	for k := range uint32(samples) {
		lat := sendLatency(samples + k)
		lats = append(lats, lat)
		// The frame cannot reach the kernel before its due time; the upper
		// bound only guards against a frame that waits for something else.
		if lat < delay || lat > delay+waitFor/2 {
			t.Errorf("frame %d reached the kernel %v after Send, want at least %v", samples+k, lat, delay)
		}
	}
	t.Logf("Send to kernel: fastest %v unimpaired, %v with delay=%v", base, lats, delay)
	if base >= delay {
		t.Errorf("unimpaired frames took at least %v: the machine is too slow to see a %v delay", base, delay)
	}

	// In: time from the kernel sending (it must first ask for tipy's MAC)
	// to the handler getting the ARP request.
	w.Call(func() { err = imp.SetImpairment(tap.In, tap.Impairment{Delay: delay}) })
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	kernelSendUDP(t, ns, tipyIP)
	netnstest.Eventually(t, waitFor, "the kernel's ARP request at tipy's handler", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return !arpAt.IsZero()
	})
	mu.Lock()
	inLat := arpAt.Sub(start)
	mu.Unlock()
	t.Logf("kernel to handler with delay=%v: %v", delay, inLat)
	if inLat < delay {
		t.Errorf("the ARP request reached the handler %v after the kernel sent it, want at least %v", inLat, delay)
	}

	var st tap.ImpairedStats
	w.Call(func() { st = imp.Stats() })
	if st.Out.Frames != 2*samples || st.Out.PassedFrames != 2*samples || st.Out.Impaired["delay"] != samples ||
		st.In.Impaired["delay"] == 0 || st.In.PassedFrames == 0 {
		t.Errorf("stats %+v", st)
	}
	ev.mu.Lock()
	dirs := map[any]int{}
	for _, e := range ev.events {
		if e.Kind == observe.KindImpair && e.Host == "tipy0" && e.Fields["delay_ns"] == int64(delay) {
			dirs[e.Fields["dir"]]++
		}
	}
	ev.mu.Unlock()
	if dirs["out"] != samples || dirs["in"] == 0 {
		t.Errorf("delay events by direction %v, want %d out and some in", dirs, samples)
	}

	if err := imp.Close(); err != nil {
		t.Fatal(err)
	}
	w.Call(func() { err = imp.Send(make([]byte, 60)) })
	if !errors.Is(err, net.ErrClosed) {
		t.Errorf("Send after Close: %v", err)
	}
	if dev.Send(make([]byte, 60)) == nil {
		t.Error("the TAP device is still open after Close")
	}
}
