// Handshake prints the trace of a TCP three-way handshake as tipy's
// observer bus reports it: every segment sent and received and every state
// change, each with the reason the stack gives and the RFC section behind it.
// Sequence numbers are shown relative to each side's initial sequence
// number, as Wireshark does.
//
// By default it runs in an in-process virtual network of two tipy hosts,
// so the trace shows both ends: tipy (10.0.0.1) connects to port 80 of peer
// (10.0.0.2).
//
//	go run ./examples/handshake
//
// On a TAP device, tipy connects to port -port of -peer, or without -peer
// waits for a connection (try `nc 192.168.2.7 80`); the trace shows tipy's
// end.
//
//	sudo go run ./examples/handshake -tap tap0 -ip 192.168.2.7/24 -peer 192.168.2.20 -port 22
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"net/netip"
	"regexp"
	"strings"

	"github.com/tipy/tipy/examples/internal/demo"
	"github.com/tipy/tipy/observe"
)

func main() { demo.Main(run) }

func run(args []string, stdout io.Writer) error {
	port := 80
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	bus := observe.NewBus(observe.BusOptions{})
	env, err := demo.Open(ctx, "handshake", args, stdout, demo.Options{Bus: bus, Flags: func(fs *flag.FlagSet) {
		fs.IntVar(&port, "port", port, "the TCP port to connect to (or to listen on)")
	}})
	if err != nil {
		return err
	}
	defer env.Close()

	// Subscribe once the addresses are usable, so the trace starts with the
	// connection. TCP state changes and segments are enough to follow a
	// handshake; the timers, samples and the ARP exchange are left out.
	sub := bus.Subscribe(observe.Filter{
		Layers: []observe.Layer{observe.LayerTCP},
		Kinds:  []observe.Kind{observe.KindState, observe.KindTX, observe.KindRX},
	}, 256)
	defer sub.Close()

	// The ends to see established: both in the virtual network, tipy on a
	// TAP device.
	ends := 1
	serverHost, clientHost := env.Tipy, env.Tipy
	switch {
	case env.Virtual():
		ends, serverHost = 2, env.Peer
	case env.PeerAddr.IsValid():
		serverHost = nil
	default:
		clientHost = nil
	}
	errc := make(chan error, 2)
	sides := 0 // goroutines that report on errc
	var ln net.Listener
	if serverHost != nil {
		sides++
		if ln, err = serverHost.ListenTCP(fmt.Sprintf(":%d", port)); err != nil {
			return err
		}
		defer ln.Close()
		go func() {
			c, err := ln.Accept()
			if err == nil {
				defer c.Close()
			}
			errc <- err
		}()
	}
	if clientHost != nil {
		sides++
		go func() {
			c, err := clientHost.Dial("tcp", netip.AddrPortFrom(env.PeerAddr, uint16(port)).String())
			if err == nil {
				c.Close()
			}
			errc <- err
		}()
	} else {
		fmt.Fprintf(stdout, "tipy: waiting for a connection to %s:%d, Ctrl-C stops\n", env.Tipy.Addr(), port)
		ctx, cancel = demo.Interrupted(ctx)
		defer cancel()
	}

	// The trace ends when every end is established and, when tipy opened
	// the connection, once it has sent the third segment (it changes state
	// first, then acknowledges the SYN-ACK).
	tr := newTracer(stdout)
	established, acked := 0, clientHost == nil
	for established < ends || !acked {
		e, err := sub.Next(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return nil // Ctrl-C
			}
			return err
		}
		tr.print(&e)
		if e.Kind == observe.KindState && strings.HasSuffix(e.Summary, "ESTABLISHED") {
			established++
		}
		if flags, _ := e.Fields["flags"].(string); e.Host == "tipy" && e.Kind == observe.KindTX && flags == "[.]" {
			acked = true
		}
	}
	for range sides {
		if err := <-errc; err != nil {
			return err
		}
	}
	return nil
}

// tracer prints events one per line, with sequence numbers made relative.
type tracer struct {
	out io.Writer
	isn map[string]uint64 // the initial sequence number of each end, "A:p"
}

func newTracer(out io.Writer) *tracer { return &tracer{out: out, isn: map[string]uint64{}} }

// timestamps are left out of the options: their values are clock readings.
var timestamps = regexp.MustCompile(`TS val \d+ ecr \d+`)

// print writes what happened on one line and why on the next.
func (t *tracer) print(e *observe.Event) {
	var what string
	switch e.Kind {
	case observe.KindState:
		what = "state    " + e.Summary
	case observe.KindTX, observe.KindRX:
		src, _ := e.Fields["src"].(string)
		dst, _ := e.Fields["dst"].(string)
		flags, _ := e.Fields["flags"].(string)
		opts, _ := e.Fields["options"].(string)
		seq, ack, win := number(e, "seq"), number(e, "ack"), number(e, "window")
		if strings.Contains(flags, "S") {
			if _, seen := t.isn[src]; !seen {
				t.isn[src] = seq
			}
		}
		verb := "sends   "
		if e.Kind == observe.KindRX {
			verb = "receives"
		}
		what = fmt.Sprintf("%s %-5s %s > %s seq %d", verb, flags, src, dst, uint32(seq-t.isn[src]))
		if strings.Contains(flags, ".") {
			what += fmt.Sprintf(" ack %d", uint32(ack-t.isn[dst]))
		}
		what += fmt.Sprintf(" win %d", win)
		if opts != "" {
			what += " <" + timestamps.ReplaceAllString(opts, "TS") + ">"
		}
	default:
		return
	}
	fmt.Fprintf(t.out, "%-5s %s\n      why: %s", e.Host, what, e.Explain)
	if e.RFC != "" && !strings.Contains(e.Explain, e.RFC) {
		fmt.Fprintf(t.out, " (%s)", e.RFC)
	}
	fmt.Fprintln(t.out)
}

// number returns a numeric field of e whatever its integer type (events
// read back from a trace file hold float64).
func number(e *observe.Event, name string) uint64 {
	switch v := e.Fields[name].(type) {
	case int:
		return uint64(v)
	case int64:
		return uint64(v)
	case uint16:
		return uint64(v)
	case uint32:
		return uint64(v)
	case uint64:
		return v
	case float64:
		return uint64(v)
	}
	return 0
}
