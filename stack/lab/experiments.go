package lab

import (
	"context"
	"errors"
	"time"

	"github.com/tipy/tipy/stack"
	"github.com/tipy/tipy/stack/host"
)

// defaultSettle is how long of the lab's clock an experiment waits after its
// last action for the frames it caused to finish.
const defaultSettle = 2 * time.Second

// All returns the experiments of the built-in lab, in the order the
// dashboard lists them: from the wire up.
func All() []*Experiment {
	return append(netExperiments(), tcpExperiments()...)
}

// Tipy returns host tipy (the first host of the lab, whatever --name calls it).
func (e *Env) Tipy() *host.Host { return e.Net.Hosts()[0] }

// WaitReady waits until every address of every host is usable (the RFC 5227
// probes at the start of the lab take a few seconds of its clock).
func (e *Env) WaitReady(ctx context.Context) error {
	for {
		ready := true
		for _, h := range e.Net.Hosts() {
			h.Call(func() {
				for _, ifc := range h.Ifaces() {
					ready = ready && ifc.AddressState() == stack.AddrPreferred
				}
			})
		}
		if ready {
			return nil
		}
		if err := e.Sleep(ctx, 100*time.Millisecond); err != nil {
			return err
		}
	}
}

// isNoEntry reports whether err says an ARP entry did not exist.
func isNoEntry(err error) bool { return errors.Is(err, stack.ErrNoARPEntry) }
