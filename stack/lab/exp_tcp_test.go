package lab

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tipy/tipy/tap"
)

// tcpLabState is what an experiment must leave as it found it: the open
// sockets of every host, the listeners, the connections (but those in
// TIME-WAIT) and the impairment of every link.
func tcpLabState(r *Runner) string {
	var b strings.Builder
	for _, h := range r.net.Hosts() {
		h.Call(func() {
			fmt.Fprintf(&b, "%s: sockets", h.Name())
			for _, so := range h.Sockets() {
				fmt.Fprintf(&b, " %d", so.ID())
			}
			b.WriteString("; listeners")
			for _, l := range h.TCPListeners() {
				fmt.Fprintf(&b, " %s", l.Local)
			}
			b.WriteString("; connections")
			for _, c := range h.TCPConnections() {
				if c.State != "TIME-WAIT" { // the end of an orderly close, left to expire
					fmt.Fprintf(&b, " %s %s", c.Conn, c.State)
				}
			}
			b.WriteString("\n")
		})
	}
	for _, p := range r.net.Ports() {
		r.net.Loop().Call(func() {
			fmt.Fprintf(&b, "%s: in %v, out %v\n", p.Name(), p.Impairment(tap.In), p.Impairment(tap.Out))
		})
	}
	return b.String()
}

// TestTCPExperimentsInSequence runs every TCP experiment one after the
// other in one lab, then again in the reverse order: each must pass, and
// leave no socket, listener or impairment behind, whatever ran before it.
func TestTCPExperimentsInSequence(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a minute of lab time")
	}
	r := startLab(t, 10)
	exps := tcpExperiments()
	order := slices.Clone(exps)
	for _, x := range slices.Backward(exps) {
		order = append(order, x)
	}
	before := tcpLabState(r) // the services' listeners are open from the start
	for i, x := range order {
		run, err := r.Start(x.ID)
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		run, err = r.Wait(ctx, x.ID, run.ID)
		cancel()
		if err != nil {
			t.Fatal(err)
		}
		if run.Status != StatusPassed {
			t.Errorf("run %d, %s: %s: %s\nsteps: %q", i+1, x.ID, run.Status, run.Error, run.Steps)
		}
		if lab := time.Duration(run.EndNS - run.StartNS); lab > tcpLabTimeLimit {
			t.Errorf("run %d, %s: took %v of lab time", i+1, x.ID, lab)
		}
		if after := tcpLabState(r); after != before {
			t.Errorf("run %d, %s: the lab changed:\nbefore:\n%s\nafter:\n%s", i+1, x.ID, before, after)
		}
	}
}
