package lab

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tipy/tipy/stack"
	"github.com/tipy/tipy/stack/host"
)

// labState is what the experiments below TCP may touch in a lab and must
// leave as they found it.
type labState struct {
	sockets map[string]int               // open sockets per host
	ipv4    map[string]stack.IPv4Config  // IPv4 tuning per host
	groups  map[string]int               // multicast groups joined per host
	routes  map[string]int               // routes per host
	static  map[string][]stack.ARPEntry  // static ARP entries per host
	addrs   map[string][]stack.AddrState // RFC 5227 state of each interface's address
	pending map[string]stack.ReassemblyStats
}

func snapshot(n *host.Network) labState {
	st := labState{sockets: map[string]int{}, ipv4: map[string]stack.IPv4Config{}, groups: map[string]int{},
		routes: map[string]int{}, static: map[string][]stack.ARPEntry{}, addrs: map[string][]stack.AddrState{},
		pending: map[string]stack.ReassemblyStats{}}
	for _, h := range n.Hosts() {
		name := h.Name()
		h.Call(func() {
			st.sockets[name] = len(h.Sockets())
			st.ipv4[name] = h.Config().IPv4
			st.routes[name] = len(h.Routes())
			for _, ifc := range h.Ifaces() {
				st.groups[name] += len(ifc.Groups())
				st.addrs[name] = append(st.addrs[name], ifc.AddressState())
			}
			for _, e := range h.ARPTable() {
				if e.Static || e.State == stack.ARPFailed || e.Queued > 0 {
					st.static[name] = append(st.static[name], stack.ARPEntry{Iface: e.Iface, IP: e.IP, MAC: e.MAC, State: e.State, Queued: e.Queued})
				}
			}
			r := h.ReassemblyStats()
			st.pending[name] = stack.ReassemblyStats{InProgress: r.InProgress, BytesHeld: r.BytesHeld, Timeout: r.Timeout, MemoryCap: r.MemoryCap}
		})
	}
	return st
}

func (s labState) String() string {
	return fmt.Sprintf("sockets %v, ipv4 %v, groups %v, routes %v, static/failed/queued ARP %v, addresses %v, reassembly %v",
		s.sockets, s.ipv4, s.groups, s.routes, s.static, s.addrs, s.pending)
}

// TestNetExperimentsInSequence runs every experiment below TCP in one lab,
// in order and then in reverse order (so each runs twice, after each of the
// others), and checks that each passes and that together they leave the lab
// as they found it.
func TestNetExperimentsInSequence(t *testing.T) {
	r := startLab(t, 10)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	env := &Env{Net: r.net, log: func(string) {}}
	if err := env.WaitReady(ctx); err != nil {
		t.Fatal(err)
	}
	before := snapshot(r.net)
	exps := netExperiments()
	order := append(slices.Clone(exps), exps...)
	slices.Reverse(order[len(exps):])
	start := r.net.Loop().Now()
	for _, x := range order {
		run, err := r.Start(x.ID)
		if err != nil {
			t.Fatal(err)
		}
		run, err = r.Wait(ctx, x.ID, run.ID)
		if err != nil {
			t.Fatal(err)
		}
		took := time.Duration(run.EndNS - run.StartNS)
		t.Logf("%s: %s in %v of lab time\n  %s", x.ID, run.Status, took, strings.Join(run.Steps, "\n  "))
		if run.Status != StatusPassed {
			t.Errorf("%s: %s: %s", x.ID, run.Status, run.Error)
		}
		if took > 20*time.Second {
			t.Errorf("%s took %v of lab time, more than 20s", x.ID, took)
		}
	}
	t.Logf("%d runs in %v of lab time", len(order), r.net.Loop().Now().Sub(start))
	if after := snapshot(r.net); after.String() != before.String() {
		t.Errorf("the experiments changed the lab:\nbefore: %v\nafter:  %v", before, after)
	}
}
