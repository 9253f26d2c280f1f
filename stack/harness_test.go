package stack_test

import (
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

// lan is a test network: stacks on one virtual switch, one virtual loop, and
// every event kept. Tests drive it with lan.loop.RunFor / RunWhile, and call
// blocking socket methods from goroutines while lan.run... (see runUntil).
type lan struct {
	t     *testing.T
	loop  *clock.Virtual
	sw    *tap.Switch
	ev    *events
	hosts map[string]*stack.Stack
	ports map[string]*tap.Port
}

// hostSpec describes one host of a test LAN.
type hostSpec struct {
	name string
	addr string // "192.168.2.7/24"
	gw   string // optional
	mod  func(*stack.Config)
}

func newLAN(t *testing.T, seed uint64, specs ...hostSpec) *lan {
	t.Helper()
	l := &lan{t: t, loop: clock.NewVirtual(), ev: &events{}, hosts: map[string]*stack.Stack{}, ports: map[string]*tap.Port{}}
	l.sw = tap.NewSwitch(l.loop, "lan", l.ev, seed)
	for i, sp := range specs {
		cfg := stack.Config{
			Name: sp.name,
			MAC:  wire.MAC{0x02, 0, 0, 0, 1, byte(i + 1)},
			Addr: netip.MustParsePrefix(sp.addr),
			Seed: seed,
			// Probing (RFC 5227) makes an address usable only after a few
			// seconds; tests of other layers start with it usable. The ARP
			// tests turn probing on where they test it.
			ARP: stack.ARPConfig{NoProbe: true},
		}
		if sp.gw != "" {
			cfg.Gateway = netip.MustParseAddr(sp.gw)
		}
		if sp.mod != nil {
			sp.mod(&cfg)
		}
		port := l.sw.AddPort(sp.name, cfg.MAC, 1500)
		s, err := stack.New(cfg, port, l.loop, l.ev)
		if err != nil {
			t.Fatal(err)
		}
		l.hosts[sp.name] = s
		l.ports[sp.name] = port
	}
	return l
}

// background runs the loop paced fast in the background for blocking socket
// calls from the test goroutine; the returned function stops it.
func (l *lan) background(speed float64) func() {
	done := make(chan struct{})
	stopped := make(chan struct{})
	l.loop.SetSpeed(speed)
	go func() {
		defer close(stopped)
		ctx, cancel := contextWithDone(done)
		defer cancel()
		l.loop.Run(ctx)
	}()
	return func() { close(done); <-stopped }
}

// count returns how many kept events match layer, kind and (if not empty)
// reason, on host (if not empty).
func (e *events) count(host string, layer observe.Layer, kind observe.Kind, reason string) int {
	n := 0
	for _, ev := range e.list {
		if (host == "" || ev.Host == host) && ev.Layer == layer && ev.Kind == kind && (reason == "" || ev.Reason == reason) {
			n++
		}
	}
	return n
}

// dump returns the kept events as lines, for failure messages.
func (e *events) dump() string {
	var b strings.Builder
	for _, ev := range e.list {
		fmt.Fprintf(&b, "%s %-6s %-5s %-6s %s %s\n", clock.Time(ev.TimeNS), ev.Host, ev.Layer, ev.Kind, ev.Summary, ev.Reason)
	}
	return b.String()
}

var _ = time.Second
